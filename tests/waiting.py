"""Waiting on a condition, never on the clock alone: a loaded 2-core machine makes any fixed
delay too short some day. The one place our tests poll."""
from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable

POLL_S = 0.02


def wait_until(condition: Callable[[], object], what: str, timeout_s: float = 120.0) -> None:
    """Return once `condition()` is true; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting until {what}")
        time.sleep(POLL_S)


def blocked_reading_a_pipe(pid: int) -> bool:
    """Whether process `pid`'s main thread sleeps in a read from a pipe (the kernel's wchan)."""
    try:
        with open(f"/proc/{pid}/wchan") as handle:
            where = handle.read()
    except OSError:
        return False
    return "pipe_read" in where or "pipe_wait" in where


def running(pattern: str) -> bool:
    """Whether a process whose command line matches `pattern` (pgrep -f) is running."""
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}")
