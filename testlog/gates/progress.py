"""Progress of a gate that measures modules: a line when a module starts, a heartbeat while it
runs (a hook that prints nothing for a minute looks hung), and its result."""
from __future__ import annotations

import os
import threading
import time

HEARTBEAT_S = 10.0
HEARTBEAT_ENV = "TESTLOG_HEARTBEAT_SECONDS"    # tests shorten it; never below 0.05 s


def heartbeat_interval() -> float:
    try:
        return max(0.05, float(os.environ.get(HEARTBEAT_ENV, HEARTBEAT_S)))
    except ValueError:
        return HEARTBEAT_S


class Progress:
    """`[i/n] name: ...` lines, numbered in the order modules start; thread-safe."""

    def __init__(self, total: int, interval: float | None = None) -> None:
        self.total = total
        self.interval = heartbeat_interval() if interval is None else interval
        self.lock = threading.Lock()
        self.started = 0
        self.running: dict[str, tuple[int, float]] = {}    # name -> (number, start time)
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def say(self, line: str) -> None:
        with self.lock:
            print(line, flush=True)

    def number(self) -> int:
        with self.lock:
            self.started += 1
            return self.started

    def begin(self, number: int, name: str, what: str) -> None:
        """A module's measurement starts: say so, and keep it in the heartbeat."""
        with self.lock:
            self.running[name] = (number, time.monotonic())
            if self.thread is None:
                # Started before the line is printed and kept only once started: a Ctrl-C the
                # moment the line appears must never leave close() a thread it cannot join.
                thread = threading.Thread(target=self._beat, name="testlog-heartbeat",
                                          daemon=True)
                thread.start()
                self.thread = thread
            print(f"[{number}/{self.total}] {name}: {what}...", flush=True)

    def end(self, number: int, name: str, result: str) -> None:
        with self.lock:
            self.running.pop(name, None)
            print(f"[{number}/{self.total}] {result}", flush=True)

    def _beat(self) -> None:
        while not self.stop.wait(self.interval):
            with self.lock:
                now = time.monotonic()
                for name, (number, since) in sorted(self.running.items()):
                    print(f"[{number}/{self.total}] {name}: still running "
                          f"({now - since:.0f}s)", flush=True)

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None and self.thread.ident is not None:
            self.thread.join()
