"""What a product built on gitstore decides and gitstore itself does not know: where its state
lives, its git config section, which files are append-only, its ref names and its wording."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Conventions:
    default_ref: str = "refs/heads/log"
    state_dir_name: str = "gitstore"      # <common git dir>/<this>: locks, pack bookkeeping, logs
    config_section: str = "gitstore"      # git config `<section>.packInBackground`
    # Append-only line logs: when commits are rebuilt on another tip, both sides' lines are kept.
    append_only_suffixes: tuple[str, ...] = ()
    fetched_ref_prefix: str = "refs/gitstore/fetched"    # fetches from a URL or a path land here
    reflog_message: bytes = b"gitstore: write"
    no_branch_hint: str = "write to it first, or fetch it from a remote"
    revision_hint: str = "list the branch with `git log`"
    push_again_hint: str = "push again"


GENERIC = Conventions()
