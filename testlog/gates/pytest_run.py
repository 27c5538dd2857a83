"""Running one module's tests in a subprocess of the project's interpreter: plain, under
coverage, or as benchmarks. Nothing is written into the user's working tree."""
from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from testlog.gates.warmpython import Starter, stop

TAIL_LINES = 25

PASSED, FAILED, NO_TESTS, NO_TESTS_DIR, ERROR = "passed", "failed", "no-tests", "no-tests-dir", "error"


@dataclass(frozen=True)
class PytestRun:
    status: str                  # PASSED, FAILED, NO_TESTS or ERROR
    report: dict[str, Any] | None
    seconds: float
    tail: str                    # the last lines pytest printed, shown when something failed


def status_of(returncode: int) -> str:
    return {0: PASSED, 1: FAILED, 5: NO_TESTS}.get(returncode, ERROR)


def cov_options(sources: tuple[str, ...]) -> list[str]:
    return [f"--cov={source or '.'}" for source in sources]


# The gates load the plugins they measure with themselves (`-p`, by their entry point names):
# git-testlog installs neither into the project, and autoloading may be off there.
COV_PLUGIN = ["-p", "pytest_cov"]


def benchmark_plugin_args(scratch: str) -> list[str]:
    """Load pytest-benchmark; its storage (`.benchmarks/`, created even when nothing is saved)
    goes to scratch space, never into the user's working tree."""
    return ["-p", "benchmark", f"--benchmark-storage=file://{os.path.join(scratch, 'benchmarks')}"]


def coverage_argv(python: str, sources: tuple[str, ...], tests: list[str], report: str,
                  benchmark_plugin: bool, scratch: str) -> list[str]:
    # --cov-fail-under=0: a project-wide fail_under must not turn a measurement into a failure.
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *COV_PLUGIN,
            *cov_options(sources), f"--cov-report=json:{report}", "--cov-fail-under=0"]
    benchmark = [*benchmark_plugin_args(scratch), "--benchmark-disable"] if benchmark_plugin else []
    return argv + benchmark + tests


def tests_argv(python: str, tests: list[str], benchmark_plugin: bool, scratch: str) -> list[str]:
    argv = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    benchmark = [*benchmark_plugin_args(scratch), "--benchmark-disable"] if benchmark_plugin else []
    return argv + benchmark + tests


def bench_argv(python: str, folders: list[str], report: str, scratch: str) -> list[str]:
    return [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *benchmark_plugin_args(scratch),
            "--benchmark-only", f"--benchmark-json={report}", "--benchmark-save-data", *folders]


def run_pytest(argv: list[str], repo_root: str, env: dict[str, str], report: str | None,
               starter: Starter | None = None) -> PytestRun:
    """`argv` in `repo_root`: started by `starter` (gates.warmpython) where it can, else (no
    starter: `prestart = false`) as a plain process."""
    start = time.perf_counter()
    proc = starter.popen(argv, repo_root, env) if starter else None
    if proc is None:
        done = subprocess.run(argv, cwd=repo_root, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        output, returncode = done.stdout, done.returncode
    else:
        try:
            output = proc.stdout.read() if proc.stdout else b""
            returncode = proc.wait()
        finally:
            stop(proc)                     # at once on Ctrl-C, as subprocess.run would
    seconds = time.perf_counter() - start
    lines = output.decode(errors="replace").rstrip().splitlines()
    status = status_of(returncode)
    data = None
    if report and status in (PASSED, FAILED) and os.path.exists(report):
        with open(report, encoding="utf-8") as handle:
            data = json.load(handle)
    if report and status in (PASSED, FAILED) and data is None:
        status = ERROR
    return PytestRun(status, data, seconds, "\n".join(lines[-TAIL_LINES:]))
