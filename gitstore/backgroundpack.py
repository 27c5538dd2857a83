"""Packing in a detached process, as `git gc --auto` detaches (git's `gc.autoDetach`).

Merging packs runs `git pack-objects` with a delta search over everything merged: seconds
on a branch of large runs. A writer (a pytest session ending) only counts its write and,
when packing is due, starts this module detached and returns. The packer runs at low
priority and writes its new packs beside the old ones while writers go on; it takes the
writers' lock only to record them and delete what they replace (milliseconds). It quietly
gives up when another packer is already at work; a pack that never happens stays due, and
the next write starts it again. `git config <section>.packInBackground false` packs
in the writing process instead (the section is the product's: gitstore.conventions).

    python -m gitstore.backgroundpack COMMON_DIR STATE_DIR REF EVERY   (started by spawn_packer)
"""
from __future__ import annotations

import os
import subprocess
import sys

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.locking import try_lock, write_lock
from gitstore.packing import apply_packs, packed, prepare_packs, report_failure, still_due

CONFIG_NAME = b"packInBackground"
LOCK_TIMEOUT = 300.0          # a packer waits this long for the writers to finish
NICENESS = 10

# The first child forks the packer into a new session and exits at once: the writer reaps it
# right away (no zombie, no "still running" ResourceWarning in the user's pytest) and the
# packer outlives the writer. -I -S: nothing of the user's startup files runs in between.
_DETACH = ("import os, sys\n"
           "if os.fork() == 0:\n"
           "    os.setsid()\n"
           "    os.execv(sys.argv[1], sys.argv[1:])\n")
# The packer finds gitstore where the writer found it, appended after everything else on
# sys.path (never in front of the standard library, as PYTHONPATH would put it).
_RUN = ("import runpy, sys\n"
        "sys.path.append(sys.argv.pop(1))\n"
        "runpy.run_module('gitstore.backgroundpack', run_name='__main__', alter_sys=True)\n")
LOG_NAME = "pack.log"         # the last detached packer's errors, in the store's state folder


def pack_in_background(config: object, section: str) -> bool:
    """`<section>.packInBackground` from the repository's config stack (default true)."""
    try:
        return bool(config.get_boolean((section.encode(),), CONFIG_NAME, True))  # type: ignore[attr-defined]
    except (KeyError, ValueError):
        return True


def spawn_packer(common_dir: str, state_dir: str, ref: str, every: int) -> None:
    """Start the detached packer; never raises (packing stays due if it cannot start)."""
    package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    command = [sys.executable, "-I", "-S", "-c", _DETACH, sys.executable, "-c", _RUN,
               package_root, common_dir, state_dir, ref, str(every)]
    try:
        os.makedirs(state_dir, exist_ok=True)
        with open(os.path.join(state_dir, LOG_NAME), "wb") as log:
            subprocess.run(command, cwd=common_dir, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=log, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pass


def run_packer(common_dir: str, state_dir: str, ref: str, every: int) -> int:
    os.makedirs(state_dir, exist_ok=True)
    runner = try_lock(os.path.join(state_dir, "pack.lock"))     # one packer at a time
    if runner is None:
        return 0
    with runner:
        try:
            os.nice(NICENESS)
        except OSError:
            pass
        try:
            if not still_due(common_dir, state_dir, every):
                return 0
            tip = run_git(["rev-parse", "--verify", "--quiet", ref], common_dir,
                          check=False).stdout.decode().strip()
            if not tip:
                return 0
            # pack-objects (seconds) runs beside the writers; only the bookkeeping and the
            # deletions (milliseconds) wait for, and hold, their lock.
            plan = prepare_packs(common_dir, state_dir, tip)
            with write_lock(os.path.join(state_dir, "write.lock"), LOCK_TIMEOUT):
                apply_packs(common_dir, state_dir, plan)
                packed(state_dir)
        except GitStoreError as exc:
            report_failure(exc)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run_packer(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])))
