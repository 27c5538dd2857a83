"""What a product built on gitstore decides and gitstore itself does not know: where its state
lives, its git config section, its ref names and its wording."""
from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass


def to_stderr(text: str) -> None:
    print(text, file=sys.stderr)


@dataclass(frozen=True)
class Conventions:
    default_ref: str = "refs/heads/log"
    state_dir_name: str = "gitstore"      # <common git dir>/<this>: locks, pack bookkeeping, logs
    config_section: str = "gitstore"      # git config `<section>.packInBackground`
    # Where the chains of other writers live (each only ever fast-forwarded by its writer):
    # together with the store's own branch, they are the log a reader sees.
    chain_prefixes: tuple[str, ...] = ("refs/gitstore/chains/",)
    reflog_message: bytes = b"gitstore: write"
    no_branch_hint: str = "write to it first, or fetch it from a remote"
    revision_hint: str = "list the branch with `git log`"
    # Told when a reader, finding no chain here, reads a remote-tracking copy of the branch
    # (a fresh clone has origin's branch as refs/remotes/origin/<name> and nothing else).
    notice: Callable[[str], None] = to_stderr
    remote_copy_hint: str = "fetch the remote's chains to have them all"


GENERIC = Conventions()
