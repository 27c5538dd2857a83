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
# Once pytest is imported, what is on the heap (the standard library, pytest) lives as long as
# the process: it is frozen (gc.freeze), so that neither the run's collections nor the exit's
# walk it again (about 40 ms of a small module's run). What conftest files, plugins and tests
# create is collected as in any run, their cycles' finalizers at exit included.
# pytest then runs as `python -m pytest` runs it (runpy._run_module_as_main: pytest's __main__
# stays __main__ until the process ends), with none of these names left in its namespace and
# one frame (this script's) below it.
BOOT = r"""
import sys
try:
    import pytest
    import _pytest.config
    import _pytest.main
    import runpy
    _ready = hasattr(runpy, "_run_module_as_main")     # what `python -m` runs
except BaseException:
    _ready = False
if _ready:
    import gc
    if hasattr(gc, "freeze"):       # CPython's (PyPy has none)
        gc.freeze()
    del gc
_line = sys.stdin.buffer.readline()
if not (_ready and _line.endswith(b"\n")):
    sys.stdout.buffer.write(b"\0warm no\n")
    sys.stdout.buffer.flush()
    raise SystemExit(0)
sys.stdout.buffer.write(b"\0warm ok\n")
sys.stdout.buffer.flush()
import json, os
_request = json.loads(_line)
_null = os.open(os.devnull, os.O_RDONLY)
os.dup2(_null, 0)
os.close(_null)
os.environ.clear()
os.environ.update(_request["env"])
if sys.path and sys.path[0] == "":
    sys.path[0] = os.getcwd()
sys.argv = [""] + _request["args"]
del _line, _null, _ready, _request, json, os, sys, pytest, _pytest, runpy
__import__("runpy")._run_module_as_main("pytest")
"""
READY = b"\0warm ok\n"
PER_RUN = ("COVERAGE_FILE",)     # set per run, read when coverage starts, not at import
Place = tuple[str, str, frozenset[tuple[str, str]]]     # interpreter, folder, environment
# Where the start-up did not answer ok (pytest would not import; a start-up hook read stdin or
# printed first): the rest of this command's runs there start plainly, and only once each.
_refused: set[Place] = set()


def place(python: str, cwd: str, env: dict[str, str]) -> Place:
    return python, os.path.realpath(cwd), frozenset((k, v) for k, v in env.items()
                                                    if k not in PER_RUN)


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
        run, so that it exits as soon; None where that cannot run it."""
        if place(argv[0], cwd, env) in _refused:
            return None
        try:
            return cls(argv[0], cwd, env).take(argv, cwd, env)
        except OSError:
            return None

    def matches(self, argv: list[str], cwd: str, env: dict[str, str]) -> bool:
        return argv[:3] == [self.python, "-m", "pytest"] and \
            place(self.python, cwd, env) == place(self.python, self.cwd, self.env)

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
                _refused.add(place(self.python, self.cwd, self.env))
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


class Starter:
    """How a command's pytest runs start while `prestart` is on: the run the prestarted
    interpreter (if any) was started for takes it; any other starts at once the same way."""

    def __init__(self, warm: WarmPython | None = None) -> None:
        self.warm = warm

    def popen(self, argv: list[str], cwd: str,
              env: dict[str, str]) -> subprocess.Popen[bytes] | None:
        """The process running `argv` (output on its stdout), or None: run it plainly."""
        proc = self.warm.take(argv, cwd, env) if self.warm else None
        return proc if proc is not None else WarmPython.fresh(argv, cwd, env)

    def close(self) -> None:
        if self.warm is not None:
            self.warm.close()


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
