"""The directory a replay runs in, outside the user's tree: the recorded source materialised
through a private index (the user's HEAD, index, tree and stash untouched), its dirty diff
applied.

A fresh checkout has no compiled bytecode, and pytest's assertion rewriting of every test
module then costs as much as a good part of the run. So a replay of a source already replayed
reuses its workspace under the system temp directory: same path, same content, and every
file's mtime pinned to one value, which keeps CPython's and pytest's (mtime, size)-validated
caches valid. Between replays only the `__pycache__` directories remain there; the source is
removed when the replay ends. A workspace in use by another replay is never shared: that
replay gets a fresh temporary directory instead.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from gitstore import apply_patch, checkout_tree, try_lock

SKIPPED_DIRS = (".git", ".venv", "venv", "__pycache__", ".pytest_cache", ".tox", ".nox",
                "node_modules", ".mypy_cache")
ROOT_SEARCH_DEPTH = 3
CACHE_DIR = "testlog-replay-cache"
CACHED_WORKSPACES = 8
PINNED_MTIME = 1_000_000_000     # any fixed value: the path and content already name the source
BYTECODE = "__pycache__"


@dataclass
class Workspace:
    root: str                    # everything of this replay: src/, context, result, pytest log
    cached: bool
    lock: IO[str] | None = None

    @property
    def src(self) -> str:
        return os.path.join(self.root, "src")

    @property
    def bytecode(self) -> str:
        """PYTHONPYCACHEPREFIX of the replay: compiled files stay here, not beside sources."""
        return os.path.join(self.root, BYTECODE)


# pytest looks for its configuration from the test files up to the filesystem's root: in a
# checkout without one it would reach the temp directory, where anyone may leave a pytest.ini
# (with addopts, or a conftest.py beside it). This one, above the checkout, ends the search.
CONFIG_STOP = "pytest.ini"
CONFIG_STOP_TEXT = ("[pytest]\n# written by git testlog replay: pytest's search for a "
                    "configuration stops here\n")


def stop_config_search(ws: Workspace) -> None:
    with open(os.path.join(ws.root, CONFIG_STOP), "w", encoding="utf-8") as handle:
        handle.write(CONFIG_STOP_TEXT)


def source_key(tree: str, patch: bytes) -> str:
    return hashlib.sha256(f"{tree}\0{hashlib.sha256(patch).hexdigest()}".encode()).hexdigest()[:24]


def cache_base() -> str:
    return os.path.join(tempfile.gettempdir(), f"{CACHE_DIR}-{os.getuid()}")


def private_dir(path: str) -> bool:
    """Ours alone: a real directory owned by this user that nobody else can write to (a cache
    of bytecode that others could plant files in would run their code)."""
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        info = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and not info.st_mode & 0o022


def open_workspace(key: str | None, keep: bool) -> Workspace:
    """The cached workspace of `key` when free (not for --keep or a copied project), else a
    fresh temporary directory."""
    base = cache_base()
    if key is not None and not keep and private_dir(base):
        lock = try_lock(os.path.join(base, f"{key}.lock"))
        if lock is not None:
            root = os.path.join(base, key)
            os.makedirs(root, exist_ok=True)
            wipe_sources(root)
            prune(base, keep_key=key)
            return Workspace(root, True, lock)
    return Workspace(tempfile.mkdtemp(prefix="testlog-replay-"), False)


def close_workspace(ws: Workspace, keep: bool) -> None:
    if ws.cached:
        wipe_sources(ws.root)
        if ws.lock is not None:
            ws.lock.close()
    elif not keep:
        shutil.rmtree(ws.root, ignore_errors=True)


def wipe_sources(root: str) -> None:
    """Remove everything under `root` except `__pycache__` directories."""
    for folder, dirs, files in os.walk(root, topdown=False):
        if BYTECODE in os.path.relpath(folder, root).split(os.sep):
            continue
        for name in files:
            os.unlink(os.path.join(folder, name))
        for name in dirs:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                os.unlink(path)
            elif name != BYTECODE and not os.listdir(path):
                os.rmdir(path)


def prune(base: str, keep_key: str) -> None:
    """Drop the least recently used workspaces beyond CACHED_WORKSPACES (never one in use)."""
    locks = sorted((e for e in os.scandir(base) if e.name.endswith(".lock")),
                   key=lambda e: e.stat().st_mtime, reverse=True)
    for entry in locks[CACHED_WORKSPACES:]:
        key = entry.name[:-len(".lock")]
        if key == keep_key:
            continue
        handle = try_lock(entry.path)
        if handle is not None:
            shutil.rmtree(os.path.join(base, key), ignore_errors=True)
            os.unlink(entry.path)
            handle.close()


def pin_mtimes(root: str) -> None:
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != BYTECODE]
        for name in files:
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                os.utime(path, (PINNED_MTIME, PINNED_MTIME))


def checkout_source(common_dir: str, tree: str, dest: str, patch: bytes) -> None:
    """The recorded tree under `dest` with its dirty diff applied, mtimes pinned."""
    checkout_tree(common_dir, tree, dest)
    apply_patch(dest, patch)
    pin_mtimes(dest)


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
