"""The writer process: a child of pytest, started when the session is configured, that writes
the run so that pytest's own process does not.

While the tests run, pytest sends it outcomes and captures in batches of ~64 tests; it
imports gitstore and dulwich, opens the log branch and builds each test's record as its batch
arrives, on another core. At the end pytest sends the rest with the source it read at the
start, and waits for the lines to print. pytest's process thus never loads dulwich nor holds
the run's files, and the records are built while the tests run rather than after.

Messages are length-prefixed pickles on two pipes. The child shares pytest's stdin (gpg
decides from it whether it may prompt); its stderr goes to .git/testlog/writer.log. It loads
testlog and gitstore from where pytest loaded them, and digests the environment pytest saw.
A Ctrl-C in the terminal interrupts pytest but not the child's commit (git and gpg, started
by the child, still get it). Should the child fail or vanish, pytest's process takes the run
over (recorder.RecordWriter).
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
import traceback
from typing import Any, BinaryIO

import gitstore

import testlog
from testlog.store.background import InBackground
from testlog.store.state import WRITER_LOG, state_path
from testlog.store.writer import RunWriter, WriterSetup

_HEADER = struct.Struct("<Q")
_PIPE_BYTES = 1 << 20      # ~20 batches of 64 tests in flight before pytest would wait
# testlog and gitstore are loaded from the directories pytest loaded them from (never an older
# installed copy); every other import uses the child's own path first (stdlib, site-packages),
# then pytest's extra entries: a test directory can never shadow a module the writer imports.
_BOOT = """import importlib.util, json, sys
packages, path = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.path += [p for p in path if p and p not in sys.path]
for name, where in packages.items():
    spec = importlib.util.spec_from_file_location(
        name, where + "/__init__.py", submodule_search_locations=[where])
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
from testlog.store.process import serve
serve(int(sys.argv[3]), int(sys.argv[4]))
"""


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


def _log_file(common_dir: str | None) -> Any:
    if common_dir is None:
        return subprocess.DEVNULL
    try:
        os.makedirs(state_path(common_dir), exist_ok=True)
        return open(state_path(common_dir, WRITER_LOG), "wb")
    except OSError:
        return subprocess.DEVNULL


class WriterProcess:
    """pytest's handle on its writer process. `send` and `finish` return quietly when the
    child is gone; `alive` says whether it still is."""

    def __init__(self, setup: WriterSetup) -> None:
        to_child, from_parent = os.pipe()
        from_child, to_parent = os.pipe()
        _widen(from_parent)
        packages = {"testlog": testlog.__path__[0], "gitstore": gitstore.__path__[0]}
        log = _log_file(setup.common_dir)
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-c", _BOOT, json.dumps(packages),
                 json.dumps(setup.sys_path), str(to_child), str(to_parent)],
                # The environment pytest's Python sees (the one it digests): the C-level one
                # may hold more (readline sets COLUMNS and LINES).
                env=setup.environ, pass_fds=(to_child, to_parent),
                stdout=subprocess.DEVNULL, stderr=log)
        except BaseException:
            for fd in (to_child, from_parent, from_child, to_parent):
                os.close(fd)
            raise
        finally:
            if log is not subprocess.DEVNULL:
                log.close()
        os.close(to_child)
        os.close(to_parent)
        self._out: int | None = from_parent
        self._in = os.fdopen(from_child, "rb")
        self.alive = True
        self.finish_sent = False
        try:
            _send(from_parent, ("setup", setup))
        except BaseException:
            self.close(timeout=0)
            raise

    def send(self, message: Any) -> bool:
        if not self.alive or self._out is None:
            return False
        try:
            _send(self._out, message)
        except OSError:           # BrokenPipeError: the child died
            self.alive = False
        except BaseException:     # Ctrl-C mid-message: the stream is unusable from here on
            self.alive = False
            self._close_out()
            raise
        return self.alive

    def finish(self, message: Any) -> None:
        """Hand over the session's end; `result` waits for the answer."""
        self.finish_sent = self.send(("finish", message))
        self._close_out()

    def result(self) -> tuple[str, Any] | None:
        """("done", lines to print) or ("failed", the child's traceback); None when the child
        ended without answering. Reads only after `finish`, or once the child is gone (it
        may have answered before dying): never while it waits for more input."""
        if not self.finish_sent and self.alive:
            return None
        self._close_out()
        try:
            answer = _receive(self._in)
        except (OSError, pickle.UnpicklingError, EOFError, ValueError):
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
    # A handler, not SIG_IGN: handlers do not survive exec, so git and gpg still get Ctrl-C.
    signal.signal(signal.SIGINT, lambda _signum, _frame: None)
    gc.disable()                # short-lived, thousands of new containers and no cyclic garbage
    inbox = os.fdopen(inbox_fd, "rb")
    message = _receive(inbox)
    if message is None or message[0] != "setup":
        os._exit(0)
    writer = RunWriter(message[1])
    # The environment, the store and gpg are set up on a thread, so that the inbox is drained
    # and end of input is seen meanwhile.
    started = InBackground(writer.start)
    queued: list[tuple[str, Any]] = []
    while True:
        message = _receive(inbox)
        if message is None:
            os._exit(0)          # pytest ended without a run to write (or died): nothing to do
        queued.append(message)
        if not started.done() and message[0] != "finish":
            continue             # keep reading: pytest must never wait on a full pipe
        try:
            started.get()
            for kind, payload in queued:
                if kind == "tests":
                    writer.add(*payload)
                elif kind == "finish":
                    answer: tuple[str, Any] = ("done", writer.finish(*payload))
            queued.clear()
            if message[0] == "finish":
                break
        except BaseException:
            answer = ("failed", traceback.format_exc())
            break
    try:
        _send(outbox_fd, answer)
    finally:
        os._exit(0)               # nothing left to flush: skip the interpreter's teardown
