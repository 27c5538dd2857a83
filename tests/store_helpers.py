"""Checks shared by the storage-layer tests: what we may touch, and what a sound log looks like."""
from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from pathlib import Path

from gitstore import LogStore

from testlog.store.state import CONVENTIONS
from tests.fixtures import git


def open_store(path: str | os.PathLike[str] = ".", **kwargs: object) -> LogStore:
    """LogStore.open with git-testlog's conventions (its ref, state folder, config section)."""
    return LogStore.open(path, conventions=CONVENTIONS, **kwargs)  # type: ignore[arg-type]

HOOKS = ("pre-commit", "prepare-commit-msg", "commit-msg", "post-commit", "reference-transaction",
         "post-rewrite", "pre-auto-gc", "post-checkout", "post-merge")


def common_dir(path: Path) -> Path:
    return Path(git(path, "rev-parse", "--path-format=absolute", "--git-common-dir").strip())


def ours(rel: str) -> bool:
    """Files of the git dir the log store may create or change."""
    return rel.startswith(("objects/", "testlog/", "refs/heads/testlog", "logs/refs/heads/testlog"))


def git_dir_files(path: Path) -> dict[str, str]:
    """Digest of every file in the repository's git dir(s) that is not the log store's own."""
    root = common_dir(path)
    found = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if not ours(rel):
                found[rel] = hashlib.sha256(Path(full).read_bytes()).hexdigest()
    return found


def install_hooks(path: Path, marker_dir: Path) -> None:
    """Hooks that leave a file in `marker_dir` if anything runs them."""
    hooks = common_dir(path) / "hooks"
    hooks.mkdir(exist_ok=True)
    for name in HOOKS:
        hook = hooks / name
        hook.write_text(f"#!/bin/sh\ntouch '{marker_dir}/{name}'\n")
        hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def fsck(path: Path) -> str:
    """`git fsck --strict` output; fails on a non-zero exit or any error or warning line."""
    proc = subprocess.run(["git", "fsck", "--strict", "--no-dangling"], cwd=path,
                          capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert not [line for line in out.splitlines() if line.startswith(("error", "warning"))], out
    return out


def branch_shas(path: Path, ref: str = "testlog") -> list[tuple[str, list[str]]]:
    """(sha, parents) of the log branch, newest first, as stock git sees them."""
    lines = git(path, "log", "--format=%H %P", ref).splitlines()
    return [(line.split()[0], line.split()[1:]) for line in lines]


def assert_linear(path: Path, count: int, ref: str = "testlog") -> list[str]:
    """The branch has `count` commits, each with one parent but the orphan root."""
    chain = branch_shas(path, ref)
    assert len(chain) == count
    for (sha, parents), (older, _) in zip(chain, chain[1:]):
        assert parents == [older], f"{sha} is not linear: {parents}"
    assert chain[-1][1] == [], "the first log commit must be an orphan root"
    return [sha for sha, _ in chain]


def object_files(path: Path) -> set[str]:
    """Every file under objects/ (loose objects and packs)."""
    root = common_dir(path) / "objects"
    return {os.path.relpath(os.path.join(d, n), root) for d, _, ns in os.walk(root) for n in ns}


def settle(path: Path) -> None:
    """Backdate the working tree and let git refresh its index once.

    Files written in the same second as the index are "racily clean": the next `git status`
    may rewrite the index, which would look like a change made by the code under test.
    """
    past = os.stat(path).st_mtime - 60
    for dirpath, dirs, names in os.walk(path):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            os.utime(os.path.join(dirpath, name), (past, past), follow_symlinks=False)
    subprocess.run(["git", "status", "--porcelain"], cwd=path, capture_output=True, check=True)
