"""Running pytest with the recorder in a real subprocess and reading the log branch back with git."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

from gitstore import GIT_LOCATION_VARS

from testlog.core.hashing import describe_value
from testlog.core.records import TestOutcome
from testlog.core.runfiles import Harvest, RunContext
from testlog.core.seeds import derive_seed
from testlog.store import runs
from tests.fixtures import git

# The same things every recorded test run here leaves out: shuffling, the cache, bytecode.
BASE_ARGS = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q")


def pytest_env(sandbox: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in GIT_LOCATION_VARS and not k.startswith(("PYTEST_", "TESTLOG_"))}
    env.update(sandbox)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run_pytest(cwd: Path, env: dict[str, str], *args: str,
               base: tuple[str, ...] = BASE_ARGS) -> subprocess.CompletedProcess[str]:
    """`python -m pytest` in `cwd`, in a fresh process, output captured as text."""
    return subprocess.run([sys.executable, "-m", "pytest", *base, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def show(repo: Path, path: str, rev: str = "testlog") -> str:
    return git(repo, "show", f"{rev}:{path}")


def branch_files(repo: Path, rev: str = "testlog") -> list[str]:
    return git(repo, "ls-tree", "-r", "--name-only", rev).split()


def find(repo: Path, suffix: str, rev: str = "testlog") -> str:
    """The one path on the branch ending in `suffix` (e.g. "__run.json")."""
    found = [p for p in branch_files(repo, rev) if p.endswith(suffix)]
    assert len(found) == 1, found
    return found[0]


def event_at(repo: Path, rev: str = "testlog") -> dict[str, Any]:
    """The event a log commit recorded, read with plain git: its Testlog-Event-Record trailer
    (or, a commit of the first format, the last line of chronicle.ndjson)."""
    raw = git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Event-Record,valueonly)",
              rev).strip()
    if raw:
        return json.loads(raw)
    return json.loads(git(repo, "show", f"{rev}:chronicle.ndjson").splitlines()[-1])


def events(repo: Path, rev: str = "testlog") -> list[dict[str, Any]]:
    """Every event of the log branch, oldest first, read with plain git from the commits'
    Testlog-Event-Record trailers."""
    raw = git(repo, "log", "--reverse", "--format=%(trailers:key=Testlog-Event-Record,valueonly)",
              rev)
    return [json.loads(line) for line in raw.splitlines() if line.strip()]


def run_data(repo: Path, rev: str = "testlog") -> dict[str, Any]:
    """{"schema_version", "run", "records"} of the run a commit recorded: its run file read with
    plain git, its records rebuilt as `git testlog show --records` prints them."""
    artifact = event_at(repo, rev)["artifact"]
    return runs.run_data(git_bytes(repo, "show", f"{rev}:{artifact}"), artifact, artifact)


def git_bytes(cwd: Path, *args: str) -> bytes:
    env = {k: v for k, v in os.environ.items() if k not in GIT_LOCATION_VARS}
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=True,
                          env=env).stdout


def records_by_name(repo: Path, rev: str = "testlog") -> dict[str, dict[str, Any]]:
    return {r["test_name"]: r for r in run_data(repo, rev)["records"]}


_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_SHA = re.compile(r"\b[0-9a-f]{40}\b")


def normalise_text(text: str) -> str:
    """Timestamps, shas and durations replaced; the slowest-tests rows counted, not listed
    (timing decides which tests they are)."""
    text = _TIMESTAMP.sub("<TS>", _SHA.sub("<SHA>", text))
    text = re.sub(r"\s+\d+\.\d{3} ms  ", " <MS> ms  ", text)                # run.log
    text = re.sub(r"\| \d+\.\d{3} \|", "| <MS> |", text)                      # summary tables
    text = re.sub(r"\| duration \| \d+\.\d{3} s \|", "| duration | <S> s |", text)
    lines = text.split("\n")
    if "## Slowest tests" in lines:
        start = lines.index("## Slowest tests") + 4
        end = lines.index("", start)
        lines[start:end] = [f"<{end - start} rows>"]
    return "\n".join(lines)


def golden(name: str, actual: str) -> None:
    """Compare with tests/golden/<name>; TESTLOG_UPDATE_GOLDEN=1 rewrites it."""
    path = Path(__file__).parent / "golden" / name
    if os.environ.get("TESTLOG_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")


def unit_context() -> RunContext:
    """A run's context as a unit test states it (no source, a fixed day and seeds)."""
    return RunContext(suite="unit", day=date(2025, 11, 1), base_seed=42, session_seed=7,
                      started_ns=1_761_900_000_000_000_000, source=None, pythonhashseed="0",
                      record_environment={"os": "Linux", "env_digest": "hmac-sha256:00"},
                      run_environment={"os": "Linux"}, pytest_args=["-q"], pytest_version="9",
                      reseed=True, full_state=False, randomly={"active": False, "seed": None})


def unit_harvest() -> Harvest:
    """Three passing tests with their captures, completed out of name order."""
    harvest = Harvest(finished_ns=1_761_900_001_000_000_000)
    passed = ("passed", False)
    for order, name in enumerate(["t.py::b", "t.py::a", "t.py::c[ü]"]):
        harvest.outcomes.append(TestOutcome(name, {"setup": passed, "call": passed,
                                                   "teardown": passed}, order=order))
        harvest.add_captures([{"nodeid": name, "seed": derive_seed(42, name), "worker": None,
                               "before": {"python": "ab"}, "after": {"python": "cd"},
                               "start_ns": 10, "end_ns": 2_345_678, "cpu_ns": 5,
                               "wall_ns": 1_761_900_000_500_000_000, "rss": 2**20, "errors": [],
                               "inputs": {}, "outputs": {"y": describe_value(1 / 7)}}])
    return harvest
