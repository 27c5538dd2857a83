"""Keeping the log branch's objects packed: loose commits cost ~30x a packed repository.

Every PACK_EVERY_WRITES writes (sooner when loose objects pile up: see count_write), the
objects the branch gained since the last pack go into one new pack and their loose copies are
removed. Packs are merged geometrically (as `git repack --geometric=2`), so the number of
packs grows with the log of the history and each object is rewritten only a few times.
Only packs this module made are ever merged or deleted; the rest of the repository (and
`git gc --auto`) is left to the user's git.
"""
from __future__ import annotations

import functools
import os
import struct
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.locking import sweep_leftovers

PACK_EVERY_WRITES = 100
MIN_LOOSE_BYTES = 512 * 1024
GEOMETRIC_FACTOR = 2
# The delta window of a merge holds at most this many bytes of candidates. A run's records
# are MBs of JSON full of fresh digests that delta poorly: on 24 packs of 18 runs of a
# 2,000-test suite git's unbounded window took 4.5 s, this one 2.2 s, for the same 39 MB.
MERGE_WINDOW_BYTES = 1024 * 1024
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


def count_write(common_dir: str, state_dir: str, every: int = PACK_EVERY_WRITES,
                written: int = 0) -> bool:
    """Count a write and the disk bytes it added; True when packing is due.

    Due every `every` writes, or sooner once what was written since the last pack (loose
    objects, packs of bulk writes) takes more disk than half of our packs (at least
    MIN_LOOSE_BYTES): append-only files such as the chronicle are rewritten whole by every
    write, so without deltas their copies grow quadratically. Runs under the write lock.
    """
    counter = os.path.join(state_dir, "writes-since-pack")
    count, pending = _counts(_read(counter))
    count, pending = count + 1, pending + written
    _write(counter, f"{count} {pending}")
    return _due(common_dir, state_dir, every, count, pending)


def _due(common_dir: str, state_dir: str, every: int, count: int, pending: int) -> bool:
    return count >= every or pending >= loose_budget(state_dir, common_dir)


def still_due(common_dir: str, state_dir: str, every: int) -> bool:
    """Whether packing is still due (another packer may have done it meanwhile)."""
    count, pending = _counts(_read(os.path.join(state_dir, "writes-since-pack")))
    return _due(common_dir, state_dir, every, count, pending)


def pack_if_due(common_dir: str, state_dir: str, tip: str, every: int = PACK_EVERY_WRITES,
                written: int = 0) -> bool:
    """Count a write; pack what the branch gained when due, right here (under the lock)."""
    return count_write(common_dir, state_dir, every, written) and pack_now(common_dir, state_dir, tip)


def pack_now(common_dir: str, state_dir: str, tip: str) -> bool:
    """Pack what the branch gained up to `tip` and reset the count; under the write lock. A
    failure is reported and leaves the count due, so that the next write tries again."""
    try:
        pack_branch_objects(common_dir, state_dir, tip)
    except GitStoreError as exc:
        report_failure(exc)
        return False
    packed(state_dir)
    return True


def packed(state_dir: str) -> None:
    """Packing happened: start counting writes again."""
    _write(os.path.join(state_dir, "writes-since-pack"), "0 0")


def report_failure(exc: GitStoreError) -> None:
    warnings.warn(f"could not pack the log branch's objects: {exc}",
                  RuntimeWarning, stacklevel=4)


def _counts(text: str) -> tuple[int, int]:
    """(writes, bytes written) since the last pack, from the counter file."""
    parts = [int(p) for p in text.split() if p.isdigit()]
    return (parts + [0, 0])[0], (parts + [0, 0])[1]


def loose_budget(state_dir: str, common_dir: str) -> int:
    """Bytes written allowed before packing: half of our packs, at least MIN_LOOSE_BYTES."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    packed = sum(os.path.getsize(os.path.join(pack_dir, name + ".pack"))
                 for name in _our_packs(state_dir, pack_dir))
    return max(MIN_LOOSE_BYTES, packed // 2)


@dataclass(frozen=True)
class PackPlan:
    """Packs written by prepare_packs, waiting for apply_packs."""
    tip: str
    added: tuple[str, ...]         # the new packs: the increment, the merge
    dropped: frozenset[str]        # our packs the merge holds, to delete


def pack_branch_objects(common_dir: str, state_dir: str, tip: str) -> None:
    """Pack the objects reachable from `tip` that are not packed yet, then merge packs."""
    apply_packs(common_dir, state_dir, prepare_packs(common_dir, state_dir, tip))


def prepare_packs(common_dir: str, state_dir: str, tip: str) -> PackPlan:
    """The slow part, which needs no writers' lock: new packs written beside the old ones
    (the branch's objects not packed yet, and the merge of our smallest packs); nothing is
    deleted and no state changes, so writers and readers see the same objects throughout."""
    previous = _read(os.path.join(state_dir, "packed-tip"))
    revs = tip + "\n"
    if previous and run_git(["cat-file", "-e", previous], common_dir, check=False).returncode == 0:
        revs += f"^{previous}\n"
    pack_dir = os.path.join(common_dir, "objects", "pack")
    increment = _pack_objects(common_dir, ["--revs", "--incremental"], revs)
    ours = _our_packs(state_dir, pack_dir) + ([increment] if increment else [])
    group = packs_to_merge({n: os.path.getsize(os.path.join(pack_dir, n + ".pack")) for n in ours})
    merged = None
    if group:
        # --stdin-packs keeps every object of the group, reachable or not (reflogs may point
        # at commits a sync rewrote), and finds deltas across the group.
        merged = _pack_objects(common_dir, ["--stdin-packs"], "".join(f"{n}.pack\n" for n in group),
                               {"pack.windowMemory": str(MERGE_WINDOW_BYTES)})
    dropped = frozenset(group) - {merged}
    added = tuple(n for n in dict.fromkeys((increment, merged)) if n and n not in dropped)
    return PackPlan(tip, added, dropped)


def apply_packs(common_dir: str, state_dir: str, plan: PackPlan) -> None:
    """The quick part, under the writers' lock: record the new packs, delete the merged ones,
    drop the loose copies of packed objects."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    _write(os.path.join(state_dir, "packed-tip"), plan.tip)
    _remember(state_dir, pack_dir, list(plan.added), plan.dropped)
    for name in sorted(plan.dropped):
        _delete_pack(pack_dir, name)
    run_git(["prune-packed", "-q"], common_dir)
    sweep_leftovers(os.path.join(common_dir, "objects"))


def _pack_objects(common_dir: str, options: list[str], stdin: str,
                  config: dict[str, str] | None = None) -> str | None:
    """Basename (`pack-<hash>`) of the pack git wrote, or None when it holds no object."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    settings = [arg for key, value in sorted((config or {}).items())
                for arg in ("-c", f"{key}={value}")]      # git -c: the user's GIT_CONFIG_* stay
    out = run_git([*settings, "pack-objects", *options, "-q", os.path.join(pack_dir, "pack")],
                  common_dir, input=stdin.encode()).stdout.decode().strip()
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


def _our_packs(state_dir: str, pack_dir: str) -> list[str]:
    """Basenames of the packs this module made that still exist (git gc may drop them)."""
    names = [line.split()[-1] for line in _read(os.path.join(state_dir, "packs")).splitlines()
             if line.strip()]
    return [n for n in names if os.path.exists(os.path.join(pack_dir, n + ".idx"))]


def _remember(state_dir: str, pack_dir: str, added: list[str],
              dropped: frozenset[str] = frozenset()) -> None:
    kept = [n for n in _our_packs(state_dir, pack_dir) if n not in dropped]
    _write(os.path.join(state_dir, "packs"), "\n".join(kept + added))


def adopt_pack(state_dir: str, common_dir: str, name: str) -> int:
    """Count a pack written directly (a bulk write) among ours, so that merges include it;
    returns its size."""
    pack_dir = os.path.join(common_dir, "objects", "pack")
    _remember(state_dir, pack_dir, [name])
    return os.path.getsize(os.path.join(pack_dir, name + ".pack"))


def packs_to_merge(sizes: dict[str, int], factor: int = GEOMETRIC_FACTOR) -> list[str]:
    """The smallest packs to roll into one, so that every pack left is at least `factor` times
    the size of all smaller packs together (git's `repack --geometric`); [] when none."""
    ordered = sorted(sizes.items(), key=lambda item: (item[1], item[0]))
    split = 0
    for i in range(len(ordered) - 1, 0, -1):
        if ordered[i][1] < factor * ordered[i - 1][1]:
            split = i + 1
            break
    total = sum(size for _, size in ordered[:split])
    while split < len(ordered) and ordered[split][1] < factor * total:
        total += ordered[split][1]
        split += 1
    return [name for name, _ in ordered[:split]] if split >= 2 else []


def _delete_pack(pack_dir: str, name: str) -> None:
    # The .idx goes before the .pack: a pack without its index is invisible to readers.
    for suffix in _PACK_SUFFIXES:
        try:
            os.unlink(os.path.join(pack_dir, name + suffix))
        except FileNotFoundError:
            pass
