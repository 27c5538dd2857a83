"""The directory a replay runs in: the recorded source materialised in a temp directory,
never the user's tree (a private index; the user's HEAD, index, tree and stash untouched)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

from gitstore.materialize import materialize

SKIPPED_DIRS = (".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".tox", ".nox",
                "node_modules", ".mypy_cache")
ROOT_SEARCH_DEPTH = 3


def checkout_source(common_dir: str, commit: str | None, tree: str | None, dest: str,
                    patch: bytes) -> str:
    """Materialise the recorded source under `dest`; "commit" or "tree" (the commit is gone)."""
    return materialize(common_dir, commit, tree, dest, patch)


def copy_project(source: str, dest: str, exclude: str | None = None) -> None:
    """A run recorded outside git has no source to check out: copy the project as it is."""
    excluded = os.path.realpath(exclude) if exclude else None

    def ignored(folder: str, names: list[str]) -> list[str]:
        return [n for n in names if n in SKIPPED_DIRS
                or os.path.realpath(os.path.join(folder, n)) == excluded]
    shutil.copytree(source, dest, symlinks=True, ignore=ignored)


def _candidates(root: str) -> Iterator[str]:
    """`root`, then its subdirectories breadth-first down to ROOT_SEARCH_DEPTH."""
    level = [root]
    for _ in range(ROOT_SEARCH_DEPTH + 1):
        yield from level
        level = [os.path.join(folder, entry.name) for folder in level
                 for entry in sorted(os.scandir(folder), key=lambda e: e.name)
                 if entry.is_dir(follow_symlinks=False) and not entry.name.startswith(".")
                 and entry.name not in SKIPPED_DIRS]


def find_rootdir(root: str, files: list[str]) -> str:
    """The directory the recorded nodeids are relative to: the one holding most of the test
    files (the top first); the top when none is found."""
    best, best_count = root, 0
    for candidate in _candidates(root):
        count = sum(os.path.exists(os.path.join(candidate, f)) for f in files)
        if count > best_count:
            best, best_count = candidate, count
        if count == len(files):
            break
    return best
