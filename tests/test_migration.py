"""Migration: a log branch written by the first on-disk format (tests/data/v1-log.bundle, made
by tests/data/make_v1_bundle.sh with the version of commit 1cb9e4c: schema 1, full-format
`runs/*__run.json`, `chronicle.ndjson`, a timing summary, two signed runs, a replay and a seal)
is read, verified, replayed and appended to by this version, and shared as one more chain."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures import git
from tests.replay_support import cli, record, replay

DATA = Path(__file__).parent / "data"
BUNDLE = DATA / "v1-log.bundle"
KEYS = DATA / "v1-log.keys.asc"


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    """A clone of the first-format project with its log branch as it was written."""
    clone = tmp_path / "proj"
    git(tmp_path, "clone", "-q", "-b", "main", str(BUNDLE), str(clone))
    git(clone, "fetch", "-q", str(BUNDLE), "+refs/heads/testlog:refs/heads/testlog")
    git(clone, "remote", "remove", "origin")
    return clone


def runs_listed(repo: Path) -> list[dict]:
    code, out, err = cli("-C", str(repo), "log", "--runs", "--json")
    assert code == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_the_first_format_is_read_as_it_was_written(v1: Path):
    assert git(v1, "ls-tree", "--name-only", "testlog", "chronicle.ndjson").strip()
    runs = runs_listed(v1)
    assert len(runs) == 2 and {r["run"]["suite"] for r in runs} == {"unit"}
    assert {r["trailers"]["Testlog-Schema"] for r in runs} == {"1"}
    failing = next(r["sha"] for r in runs if r["run"]["verdict"] == "FAIL")
    code, out, err = cli("-C", str(v1), "show", failing, "--records")
    assert code == 0, err
    records = {r["test_name"].split("::")[1]: r for r in map(json.loads, out.splitlines())}
    assert set(records) == {"test_random_draw", "test_plain", "test_fails"}
    assert records["test_fails"]["status"] == "FAIL"
    code, out, err = cli("-C", str(v1), "verify", "--trusted-keys", str(KEYS))
    assert code == 0, out + err
    assert "verify: OK" in out


def test_a_first_format_run_replays_verified(v1: Path):
    passing = next(r["sha"] for r in runs_listed(v1) if r["run"]["verdict"] == "PASS")
    code, out, err = replay(v1, passing)
    assert code == 0, out + err
    assert "REPLAY_VERIFIED" in out


def test_this_version_appends_to_it_and_shares_it_as_a_chain(v1: Path, tmp_path: Path):
    before = git(v1, "rev-parse", "testlog").strip()
    sha = record(v1, "tests", "--testlog-suite=unit")
    assert git(v1, "rev-parse", f"{sha}^").strip() == before       # appended, nothing rewritten
    assert any(p.endswith("__run.jsonl") for p in
               git(v1, "diff-tree", "-r", "--name-only", "--no-commit-id", sha).split())
    assert len(runs_listed(v1)) == 3
    # The old commits are still checked as signed by their key; the new one is unsigned.
    code, out, err = cli("-C", str(v1), "verify", "--trusted-keys", str(KEYS),
                         "--allow-unsigned")
    assert code == 0, out + err
    code, out, _ = cli("-C", str(v1), "verify", "--trusted-keys", str(KEYS))
    assert code == 1 and "unsigned commit" in out
    # Shared: pushed as this clone's chain, fetched by a fresh clone, all three runs listed.
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(v1, "remote", "add", "origin", str(remote))
    git(v1, "push", "-q", "origin", "main")
    git(v1, "config", "testlog.writer", "old-laptop")
    code, _out, err = cli("-C", str(v1), "push")
    assert code == 0, err
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    git(fresh, "config", "testlog.writer", "fresh")
    code, _out, err = cli("-C", str(fresh), "fetch")
    assert code == 0, err
    assert git(fresh, "rev-parse", "refs/testlog/chains/old-laptop").strip() == sha
    assert len(runs_listed(fresh)) == 3
