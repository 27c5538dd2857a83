"""The project's interpreter started before the gate knows what to run.

A gate spends its first tens of milliseconds asking git what changed; pytest then spends a
good part of its run importing itself. Started as soon as the project's interpreter is known,
one interpreter imports pytest on the other core while git is asked, then runs
`python -m pytest ARGS` as a fresh one would: the same working directory, environment,
`sys.argv`, `sys.path[0]` and `__main__`, stdin at end of file. Plugins are not imported
ahead: pytest must import them itself (it rewrites their asserts and warns about any module it
cannot rewrite).

Taken at most once, and only by a run of exactly that interpreter, in that directory, with that
environment (COVERAGE_FILE aside, read only when coverage starts); anything else starts one
afresh (`fresh`), which then runs at once, and an interpreter that could not import pytest
leaves the run to a plain `python -m pytest`. Nothing is prestarted on a single core, where
the imports could not overlap anything (and a push with nothing to test would wait for them).
"""
from __future__ import annotations

import os
import subprocess
import threading

from testlog.cores import usable_cores

# Run by the project's interpreter. Imports pytest, then reads one JSON line {"args": [...],
# "env": {...}} and says b"\0warm ok" before it runs pytest with them, or b"\0warm no" and
# exits: pytest did not import, or the line never came (end of file: not needed, or a start-up
# hook such as a sitecustomize read stdin first). No timeout is needed either way.
# Once pytest has returned, the gate has all it reads (the exit status, the report file
# closed): the heap is frozen so that exiting does not walk it for garbage cycles (about 40 ms
# of a small module's run). atexit handlers, module teardown and the finalizers that reference
# counting triggers still run; cycles left at exit are not collected, which CPython never
# promised either.
BOOT = r"""
import sys
try:
    import pytest
    import _pytest.config
    import _pytest.main
    _ready = True
except BaseException:
    _ready = False
_line = sys.stdin.buffer.readline()
if not (_ready and _line.endswith(b"\n")):
    sys.stdout.buffer.write(b"\0warm no\n")
    sys.stdout.buffer.flush()
    raise SystemExit(0)
sys.stdout.buffer.write(b"\0warm ok\n")
sys.stdout.buffer.flush()
import json, os, runpy
_request = json.loads(_line)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.environ.clear()
os.environ.update(_request["env"])
if sys.path and sys.path[0] == "":
    sys.path[0] = os.getcwd()
sys.argv = [""] + _request["args"]
del _line, _null, _ready, _request
try:
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)
finally:
    import gc
    if hasattr(gc, "freeze"):       # CPython's (PyPy has none)
        gc.freeze()
"""
READY = b"\0warm ok\n"
PER_RUN = ("COVERAGE_FILE",)     # set per run, read when coverage starts, not at import


class WarmPython:
    """One prestarted interpreter, for the first pytest run that matches it."""

    def __init__(self, python: str, cwd: str, env: dict[str, str]) -> None:
        self.python, self.cwd, self.env = python, os.path.realpath(cwd), env
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[bytes] | None = subprocess.Popen(
            [python, "-c", BOOT], cwd=cwd, env=env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    @classmethod
    def start(cls, python: str, cwd: str, env: dict[str, str]) -> WarmPython | None:
        if usable_cores() < 2:
            return None
        try:
            return cls(python, cwd, env)
        except OSError:
            return None                       # the fresh start later says what is wrong

    @classmethod
    def fresh(cls, argv: list[str], cwd: str,
              env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        """`argv` (`python -m pytest ...`) started now through the same start-up as a prestarted
        run, so that it exits as soon (its heap frozen); None where that cannot run it."""
        try:
            return cls(argv[0], cwd, env).take(argv, cwd, env)
        except OSError:
            return None

    def matches(self, argv: list[str], cwd: str, env: dict[str, str]) -> bool:
        return argv[:3] == [self.python, "-m", "pytest"] and \
            os.path.realpath(cwd) == self.cwd and \
            {k: v for k, v in env.items() if k not in PER_RUN} == \
            {k: v for k, v in self.env.items() if k not in PER_RUN}

    def take(self, argv: list[str], cwd: str,
             env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        """The process running `argv` (stdout and stderr on its stdout pipe), or None: start a
        fresh one."""
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            if not self.matches(argv, cwd, env) or proc.stdout is None or proc.stdin is None:
                stop(proc)
                return None
            import json  # not needed before a run takes it
            proc.stdin.write(json.dumps({"args": argv[3:], "env": env}).encode() + b"\n")
            proc.stdin.close()
            if proc.stdout.readline() != READY:      # what follows stays in the buffer
                stop(proc)
                return None
        except OSError:
            stop(proc)
            return None
        except BaseException:               # Ctrl-C while it imports: nothing left running
            stop(proc)
            raise
        return proc

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            stop(proc)


# Started by the command line before it imports the command (gates.prestart), taken over by
# the workspace: one per process.
_early: list[WarmPython] = []


def start_early(python: str, cwd: str, env: dict[str, str]) -> None:
    discard_early()
    warm = WarmPython.start(python, cwd, env)
    if warm is not None:
        _early.append(warm)


def take_early() -> WarmPython | None:
    return _early.pop() if _early else None


def discard_early() -> None:
    while _early:
        _early.pop().close()


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Ended (killed if still running) and its pipes closed."""
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None:
            pipe.close()
