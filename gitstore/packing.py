"""Keeping the log branch's objects packed: loose commits cost ~30x a packed repository."""
from __future__ import annotations

import os

from gitstore.gitcmd import run_git
from gitstore.locking import sweep_leftovers

PACK_EVERY_WRITES = 100


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

    Runs under the write lock. The pack holds only objects new since the previous packed tip,
    deltified among themselves; `git gc --auto` consolidates packs once there are many.
    """
    counter = os.path.join(state_dir, "writes-since-pack")
    count = int(_read(counter) or 0) + 1
    if count < every:
        _write(counter, str(count))
        return False
    pack_branch_objects(common_dir, state_dir, tip)
    _write(counter, "0")
    return True


def pack_branch_objects(common_dir: str, state_dir: str, tip: str) -> None:
    marker = os.path.join(state_dir, "packed-tip")
    previous = _read(marker)
    revs = tip + "\n"
    if previous and run_git(["cat-file", "-e", previous], common_dir, check=False).returncode == 0:
        revs += f"^{previous}\n"
    run_git(["pack-objects", "--revs", "-q", os.path.join(common_dir, "objects", "pack", "pack")],
            common_dir, input=revs.encode())
    run_git(["prune-packed", "-q"], common_dir)
    run_git(["-c", "gc.autoDetach=false", "gc", "--auto", "--quiet"], common_dir, check=False)
    sweep_leftovers(os.path.join(common_dir, "objects"))
    _write(marker, tip)
