"""Gate ledgers as one file per day (ledger/<kind>/YYYY-MM/DD.ndjson) beside the single file of
the first form, read from every chain: only files of the ledger's own shape are read, from a
tree built with plain git, hostile entries included."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from testlog.gates.invocation import read_ledger
from testlog.gates.workspace import open_workspace
from testlog.store.ledgerfiles import ledger_files
from tests.fixtures import git, make_repo


def line(run: str, ts: str) -> str:
    return json.dumps({"schema_version": "1", "run": run, "ts": ts, "module": "m",
                       "coverage": 50.0}, sort_keys=True) + "\n"


def commit_tree(repo: Path, ref: str, files: dict[str, tuple[str, str]]) -> str:
    """A commit of exactly `files` ({path: (mode, content)}) on `ref`, made with plain git."""
    index = repo / ".git" / "ledger-test-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    for path, (mode, content) in files.items():
        sha = git(repo, "hash-object", "-w", "--stdin", input=content.encode()).strip()
        subprocess.run(["git", "update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}"],
                       cwd=repo, env=env, check=True)
    tree = subprocess.run(["git", "write-tree"], cwd=repo, env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    index.unlink()
    commit = git(repo, "commit-tree", tree, "-m", "ledger").strip()
    git(repo, "update-ref", ref, commit)
    return commit


def test_the_first_form_and_the_days_are_read_and_nothing_else(tmp_path: Path):
    repo = make_repo(tmp_path / "repo", {"README.md": "x\n"})
    a, b, c = (line("cov-a", "2026-12-05T10:00:00Z"), line("cov-b", "2026-12-06T10:00:00Z"),
               line("cov-c", "2026-12-07T10:00:00Z"))
    evil = line("cov-evil", "2026-12-07T11:00:00Z")
    commit_tree(repo, "refs/heads/testlog", {
        "ledger/coverage.ndjson": ("100644", a),
        "ledger/coverage/2026-12/06.ndjson": ("100644", b),
        "ledger/coverage/2026-12/07.ndjson": ("100644", c + a),       # a again: read once
        "ledger/coverage/evil.ndjson": ("100644", evil),
        "ledger/coverage/2026-12/08.ndjson/x": ("100644", evil),      # a folder of that name
        "ledger/coverage/2026-12/09.ndjson": ("120000", "../../../etc/passwd"),   # a symlink
        "ledger/bench/2026-12/07.ndjson": ("100644", evil),           # the other ledger
    })
    found = ledger_files(repo, ["refs/heads/testlog"], "coverage")
    assert [path for _, path, _ in found] == [
        "ledger/coverage.ndjson", "ledger/coverage/2026-12/06.ndjson",
        "ledger/coverage/2026-12/07.ndjson"]
    with open_workspace(str(repo)) as ws:
        runs = [entry["run"] for entry in read_ledger(ws, "coverage")]
    assert runs == ["cov-a", "cov-b", "cov-c"]
    assert ledger_files(repo, ["refs/heads/nothing-here"], "coverage") == []
