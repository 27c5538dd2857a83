"""Keeping the log branch's objects packed: loose commits cost ~30x a packed repository.

Every PACK_EVERY_WRITES writes, the objects the branch gained since the last pack go into one
new pack and their loose copies are removed. Packs are merged geometrically (MERGE_PACKS of
one size make one of the next), so the number of packs grows with the log of the history and
each object is rewritten only a few times. Only packs this module made are ever merged or
deleted; the rest of the repository (and `git gc --auto`) is left to the user's git.
"""
from __future__ import annotations

import functools
import os
import struct
import warnings
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.locking import sweep_leftovers

PACK_EVERY_WRITES = 100
MERGE_PACKS = 8
_PACK_SUFFIXES = (".keep", ".bitmap", ".rev", ".mtimes", ".promisor", ".idx", ".pack")

P = ParamSpec("P")
R = TypeVar("R")


def retry_if_packed_meanwhile(read: Callable[P, R]) -> Callable[P, R]:
    """Retry a read once on a missing object.

    dulwich looks in packs, then in loose files: a writer that packs an object and prunes its
    loose copy between the two looks makes it vanish for that instant. The retry rescans packs.
    """
    @functools.wraps(read)
    def again(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return read(*args, **kwargs)
        except KeyError:
            return read(*args, **kwargs)
    return again


def _read(path: str) -> str:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except FileNotFoundError:
        return ""


def _write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as handle:
        handle.write(text + "\n")
    os.replace(tmp, path)


def pack_if_due(common_dir: str, state_dir: str, tip: str, every: int = PACK_EVERY_WRITES) -> bool:
    """Count a write; every `every` writes pack what the branch added since the last pack.

    Runs under the write lock.
    """
    counter = os.path.join(state_dir, "writes-since-pack")
    count = int(_read(counter) or 0) + 1
    if count < every:
        _write(counter, str(count))
        return False
    try:
        pack_branch_objects(common_dir, state_dir, tip)
    except GitStoreError as exc:
        # The write is already committed: report, and try again at the next write.
        _write(counter, str(count))
        warnings.warn(f"git-testlog: could not pack the log branch's objects: {exc}",
                      RuntimeWarning, stacklevel=3)
        return False
    _write(counter, "0")
    return True


def pack_branch_objects(common_dir: str, state_dir: str, tip: str) -> None:
    """Pack the objects reachable from `tip` that are not packed yet, then merge packs."""
    marker = os.path.join(state_dir, "packed-tip")
    previous = _read(marker)
    revs = tip + "\n"
    if previous and run_git(["cat-file", "-e", previous], common_dir, check=False).returncode == 0:
        revs += f"^{previous}\n"
    pack_dir = os.path.join(common_dir, "objects", "pack")
    name = _pack_objects(common_dir, ["--revs", "--incremental"], revs)
    _write(marker, tip)
    if name is not None:
        _remember(state_dir, pack_dir, [(0, name)])
    run_git(["prune-packed", "-q"], common_dir)
    merge_packs(common_dir, state_dir)
    sweep_leftovers(os.path.join(common_dir, "objects"))


def _pack_objects(common_dir: str, options: list[str], stdin: str) -> str | None:
    """Basename (`pack-<hash>`) of the pack git wrote, or None when it holds no object."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    out = run_git(["pack-objects", *options, "-q", os.path.join(pack_dir, "pack")], common_dir,
                  input=stdin.encode()).stdout.decode().strip()
    name = f"pack-{out}"
    if pack_object_count(os.path.join(pack_dir, name + ".pack")) == 0:
        _delete_pack(pack_dir, name)
        return None
    return name


def pack_object_count(pack_path: str) -> int:
    """The object count in a pack file's header."""
    with open(pack_path, "rb") as handle:
        header = handle.read(12)
    return struct.unpack(">I", header[8:12])[0]


def _our_packs(state_dir: str, pack_dir: str) -> list[tuple[int, str]]:
    """(level, basename) of the packs this module made that still exist (git gc may drop them)."""
    packs = []
    for line in _read(os.path.join(state_dir, "packs")).splitlines():
        level, _, name = line.partition(" ")
        if name and os.path.exists(os.path.join(pack_dir, name + ".idx")):
            packs.append((int(level), name))
    return packs


def _remember(state_dir: str, pack_dir: str, added: list[tuple[int, str]],
              dropped: frozenset[str] = frozenset()) -> None:
    kept = [p for p in _our_packs(state_dir, pack_dir) if p[1] not in dropped]
    _write(os.path.join(state_dir, "packs"), "\n".join(f"{lvl} {n}" for lvl, n in kept + added))


def merge_packs(common_dir: str, state_dir: str, fan_in: int = MERGE_PACKS) -> None:
    """While `fan_in` of our packs share a level, merge them into one pack of the next level."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    while True:
        packs = _our_packs(state_dir, pack_dir)
        level = next((lvl for lvl in sorted({p[0] for p in packs})
                      if sum(p[0] == lvl for p in packs) >= fan_in), None)
        if level is None:
            return
        group = [name for lvl, name in packs if lvl == level]
        # --stdin-packs keeps every object of the group, reachable or not (reflogs may point
        # at commits a sync rewrote), and finds deltas across the group.
        merged = _pack_objects(common_dir, ["--stdin-packs"],
                               "".join(f"{name}.pack\n" for name in group))
        _remember(state_dir, pack_dir, [(level + 1, merged)] if merged else [],
                  frozenset(group) - {merged})
        for name in group:
            if name != merged:
                _delete_pack(pack_dir, name)


def _delete_pack(pack_dir: str, name: str) -> None:
    # The .idx goes before the .pack: a pack without its index is invisible to readers.
    for suffix in _PACK_SUFFIXES:
        try:
            os.unlink(os.path.join(pack_dir, name + suffix))
        except FileNotFoundError:
            pass
