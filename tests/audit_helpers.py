"""Runs written the way the recorder writes them (canonical JSON through commit_event)."""
from __future__ import annotations

import os
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pytest

from gitstore import LogStore

from testlog.core.canonical import canonical_json, signed_record
from testlog.core.layout import artifact_path
from testlog.store.events import commit_event
from tests.fixtures import gen_key, git

SOURCE = {"source_commit": "a" * 40, "source_tree": "b" * 40}


def run_files(day: date, suite: str, statuses: dict[str, str], seed: int = 1) -> dict[str, bytes]:
    records = [signed_record({"test_name": name, "status": status, "seed": seed + i,
                              "duration_ms": 1.25 * (i + 1), "order": i})
               for i, (name, status) in enumerate(sorted(statuses.items()))]
    run = {"schema_version": 1, "records": records,
           "run": {"suite": suite, "base_seed": seed, **SOURCE}}
    failed = sum(s in ("FAIL", "ERROR") for s in statuses.values())
    summary = {"suite": suite, "passed": len(statuses) - failed, "failed": failed}
    return {
        artifact_path("run", "json", day, suite): canonical_json(run),
        artifact_path("run", "log", day, suite): "".join(f"{n} {s}\n" for n, s in sorted(statuses.items())).encode(),
        artifact_path("summary", "json", day, suite): canonical_json(summary),
        artifact_path("timing", "csv", day, suite): b"test,duration_ms\n",
        artifact_path("determinism", "json", day, suite): canonical_json({"base_seed": seed}),
        artifact_path("errors", "log", day, suite): b"",
    }


def record_run(store: LogStore, day: date, suite: str = "unit",
               statuses: dict[str, str] | None = None, seed: int = 1) -> str:
    statuses = statuses or {"tests/test_a.py::test_one": "PASS", "tests/test_a.py::test_two": "PASS"}
    files = run_files(day, suite, statuses, seed)
    run_path = artifact_path("run", "json", day, suite)
    failed = any(s in ("FAIL", "ERROR") for s in statuses.values())
    verdict = "FAIL" if failed else "PASS"
    return commit_event(store, files, event="TEST_SUITE_EXECUTED", artifact=run_path,
                        verdict=verdict, summary=f"TEST_SUITE_EXECUTED {suite} {verdict}",
                        trailers={"Testlog-Suite": suite})


def export_key(gnupghome: str, fingerprint: str, target: Path) -> Path:
    import gnupg
    target.write_text(gnupg.GPG(gnupghome=gnupghome).export_keys(fingerprint))
    return target


# -- fixtures shared by the audit tests (import them into the test module) -------------------



@pytest.fixture(scope="session")
def other_key(sandbox: dict[str, str], gpg_key: str) -> str:
    """A second key in the same keyring: present, usable by git, and not trusted."""
    return gen_key(sandbox["GNUPGHOME"], name="Mallory", email="mallory@example.com")


@pytest.fixture
def keys_file(tmp_path: Path, sandbox: dict[str, str], gpg_key: str) -> Path:
    return export_key(sandbox["GNUPGHOME"], gpg_key, tmp_path / "trusted.asc")


def git_env(repo: Path, *args: str, env: dict[str, str] | None = None,
            input: bytes | None = None) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k.startswith("GIT_CONFIG")}
    full.update(env or {})
    proc = subprocess.run(["git", *args], cwd=repo, env=full, input=input, capture_output=True)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr.decode()}"
    return proc.stdout.decode().strip()


def edited_tree(repo: Path, base: str, changes: dict[str, bytes | None]) -> str:
    """The tree of `base` with files replaced or removed, built with git plumbing (a forger's
    tools, not ours) in a throwaway index."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        git_env(repo, "read-tree", base, env=env)
        for path, data in changes.items():
            if data is None:
                git_env(repo, "update-index", "--force-remove", path, env=env)
            else:
                blob = git_env(repo, "hash-object", "-w", "--stdin", input=data)
                git_env(repo, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=env)
        return git_env(repo, "write-tree", env=env)


def forge_commit(repo: Path, tree: str, parent: str | None, message: str,
                 key: str | None = None) -> str:
    args = ["commit-tree", tree] + (["-p", parent] if parent else []) + (
        [f"-S{key}"] if key else [])
    return git_env(repo, *args, "-F", "-", input=message.encode())


def message_of(repo: Path, sha: str) -> str:
    return git(repo, "log", "-1", "--format=%B", sha)


def move_branch(repo: Path, sha: str) -> None:
    git(repo, "update-ref", "refs/heads/testlog", sha)
