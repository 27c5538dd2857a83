"""The writer process: a child of pytest, started when the session is configured, that writes
the run so that pytest's own process does not.

While the tests run, pytest sends it outcomes and captures in batches of ~64 tests; it
imports gitstore and dulwich, gathers the session's facts (git, gpg, environment) and builds
each test's record as its batch arrives, on another core. At the end pytest sends the rest and
waits for the lines to print. pytest's process thus never loads dulwich nor holds the run's
files, and the records are built while the tests run rather than after.

Messages are length-prefixed pickles on two pipes; the child's stdin, environment and
terminal stay pytest's (gpg decides from them whether it may prompt). The child ignores
SIGINT: a Ctrl-C in the terminal interrupts pytest, not a commit half made. Should the child
fail or vanish, the pytest process writes the run itself (recorder.RecordWriter).
"""
from __future__ import annotations

import gc
import json
import os
import pickle
import signal
import struct
import subprocess
import sys
import threading
import traceback
from typing import Any, BinaryIO

from testlog.runwriter import RunWriter, WriterSetup

_HEADER = struct.Struct("<Q")
_PIPE_BYTES = 1 << 20      # ~20 batches of 64 tests in flight before pytest would wait
# The child's own sys.path first (stdlib, site-packages), then pytest's extra entries: a test
# directory on pytest's path can never shadow a module the writer imports.
_BOOT = ("import sys, json\n"
         "sys.path += [p for p in json.loads(sys.argv[1]) if p and p not in sys.path]\n"
         "from testlog.writerproc import serve\n"
         "serve(int(sys.argv[2]), int(sys.argv[3]))\n")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _send(fd: int, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    _write_all(fd, _HEADER.pack(len(data)) + data)


def _receive(stream: BinaryIO) -> Any:
    """The next message, or None at end of input (the other side closed or died)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


def _widen(fd: int) -> None:
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):      # not Linux, or above the system's limit: 64 KiB it is
        pass


class WriterProcess:
    """pytest's handle on its writer process. Every method returns quietly when the child is
    gone; `alive` says whether it still is."""

    def __init__(self, setup: WriterSetup, environ: dict[str, str]) -> None:
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        _widen(from_parent)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, json.dumps(sys.path), str(to_child),
                 str(to_parent)],
                # `environ` as pytest's Python sees it (what the in-process writer digests):
                # the C-level environment may hold more (readline sets COLUMNS and LINES).
                env=environ, pass_fds=(to_child, to_parent), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL)
        except BaseException:
            for fd in (to_child, from_parent, from_child, to_parent):
                os.close(fd)
            raise
        os.close(to_child)
        os.close(to_parent)
        self._out: int | None = from_parent
        self._in = os.fdopen(from_child, "rb")
        self.alive = True
        self.finish_sent = False
        self.send(("setup", setup))

    def send(self, message: Any) -> bool:
        if not self.alive or self._out is None:
            return False
        try:
            _send(self._out, message)
        except OSError:           # BrokenPipeError: the child died
            self.alive = False
        return self.alive

    def finish(self, message: Any) -> None:
        """Hand over the session's end; `result` waits for the answer."""
        self.finish_sent = self.send(("finish", message))
        self._close_out()

    def result(self) -> tuple[str, Any] | None:
        """("done", lines to print) or ("failed", the child's traceback); None when the child
        ended without answering. Waits only after `finish`, or once the child has exited (a
        child that failed early answered before exiting)."""
        if not self.finish_sent and self.proc.poll() is None:
            return None
        try:
            answer = _receive(self._in)
        except (OSError, pickle.UnpicklingError, EOFError):
            answer = None
        if answer is None:
            self.alive = False
        return answer

    def _close_out(self) -> None:
        if self._out is not None:
            os.close(self._out)
            self._out = None

    def close(self, timeout: float = 10.0) -> None:
        """End of input for the child (it exits at once unless it is writing), then reap it."""
        self._close_out()
        self._in.close()
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.alive = False


# -- the child ------------------------------------------------------------------------------

def serve(inbox_fd: int, outbox_fd: int) -> None:
    """The writer process's main loop: setup, batches of tests, then finish (or end of input,
    when pytest stops without a run to write: exit without writing anything)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    gc.disable()                # short-lived, thousands of new containers and no cyclic garbage
    inbox = os.fdopen(inbox_fd, "rb")
    message = _receive(inbox)
    if message is None or message[0] != "setup":
        os._exit(0)
    writer = RunWriter(message[1], os.environ)
    started = _Started(writer)
    while True:
        message = _receive(inbox)
        if message is None:
            os._exit(0)          # pytest ended without a run to write (or died): nothing to do
        kind, payload = message
        try:
            started.wait()
            if kind == "tests":
                writer.add(*payload)
            elif kind == "finish":
                answer: tuple[str, Any] = ("done", writer.finish(payload))
                break
        except BaseException:     # noqa: BLE001 -- pytest's process takes over and reports it
            answer = ("failed", traceback.format_exc())
            break
    try:
        _send(outbox_fd, answer)
    finally:
        os._exit(0)               # nothing left to flush: skip the interpreter's teardown


class _Started:
    """`writer.start()` (git, gpg, environment) on a thread, so that end of input is seen at
    once even while it runs."""

    def __init__(self, writer: RunWriter) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(writer,), daemon=True)
        self._thread.start()

    def _run(self, writer: RunWriter) -> None:
        try:
            writer.start()
        except BaseException as exc:      # noqa: BLE001 -- raised again in wait()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error
