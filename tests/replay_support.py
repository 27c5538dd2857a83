"""Helpers for the replay tests: record real runs with pytest subprocesses, run the CLI."""
from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from testlog.cli import main
from testlog.core.canonical import canonical_json
from testlog.store.events import commit_event
from tests.fixtures import git, make_repo
from tests.recorder_helpers import event_at, run_data
from tests.store_helpers import open_store

PY = sys.executable


@contextlib.contextmanager
def sandboxed(sandbox: dict[str, str], tmp: Path) -> Iterator[None]:
    """The conftest sandbox (HOME, GNUPGHOME, git config) for module-scoped fixtures, which run
    before the function-scoped autouse one; temp files under `tmp`."""
    with pytest.MonkeyPatch.context() as mp:
        for key, value in sandbox.items():
            mp.setenv(key, value)
        for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONHASHSEED", "VIRTUAL_ENV"):
            mp.delenv(key, raising=False)
        tmp.mkdir(parents=True, exist_ok=True)
        mp.setattr(tempfile, "tempdir", str(tmp))
        yield


def project(path: Path, files: dict[str, str]) -> Path:
    """A git repo with `files` committed on main (no conftest: the tests use only our plugin)."""
    return make_repo(path, files)


def record(cwd: Path, *args: str, hashseed: str | None = "0", expect: int | None = None) -> str:
    """`pytest --testlog` in a subprocess; the new log commit's sha."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONHASHSEED"}
    if hashseed is not None:
        env["PYTHONHASHSEED"] = hashseed
    proc = subprocess.run([PY, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           "--testlog", "--testlog-no-sign", *args], cwd=cwd, env=env,
                          capture_output=True, text=True)
    assert "recorded as" in proc.stdout or "files written to" in proc.stdout, proc.stdout + proc.stderr
    if expect is not None:
        assert proc.returncode == expect, proc.stdout
    return git(cwd, "rev-parse", "testlog").strip() if "recorded as" in proc.stdout else ""


def cli(*argv: str) -> tuple[int, str, str]:
    """`git testlog …` in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def replay(repo: Path, *args: str) -> tuple[int, str, str]:
    return cli("-C", str(repo), "replay", "--python", PY, "--no-sign", *args)


def branch_json(repo: Path, path: str, rev: str = "testlog") -> dict:
    return json.loads(git(repo, "show", f"{rev}:{path}"))


def run_json(repo: Path, sha: str) -> dict:
    """The run recorded at `sha` (the artifact of its event), its records rebuilt."""
    return run_data(repo, sha)


def forge_run(repo: Path, sha: str, change) -> str:
    """A run commit in the full format whose run.json is the recorded run changed by
    `change(data)` (a hand-edited run, as an attacker or a careless hand would leave it)."""
    artifact = event_at(repo, sha)["artifact"]
    data = run_json(repo, sha)
    change(data)
    full = artifact.removesuffix("l")                      # runs/…__run.json
    with open_store(repo, sign_key=False) as store:
        return commit_event(store, {full: canonical_json(data), artifact: None},
                            event="TEST_SUITE_EXECUTED", artifact=full, verdict="PASS",
                            summary="TEST_SUITE_EXECUTED tests PASS 3 passed 0 failed",
                            trailers={"Testlog-Suite": "tests"})


def tip(repo: Path) -> str:
    return git(repo, "rev-parse", "--verify", "-q", "testlog", check=False).strip()


def last_report(repo: Path) -> dict:
    """The replay report the last log commit holds (its event's artifact)."""
    event = event_at(repo, "testlog")
    assert event["event"] in ("REPLAY_VERIFIED", "REPLAY_FAILED")
    return {"event": event, **branch_json(repo, event["artifact"])}


def verdicts(report: dict) -> dict[str, str]:
    """test function name (nodeid after the file) -> verdict."""
    return {t["test_name"].split("::", 1)[1]: t["verdict"] for t in report["tests"]}


def temp_entries(tmp: Path) -> list[str]:
    return sorted(p.name for p in tmp.iterdir()) if tmp.exists() else []


def leftovers(tmp: Path) -> list[str]:
    """Files a finished replay left in the temp directory, bytecode caches and locks aside."""
    return sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*")
                  if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".lock")
