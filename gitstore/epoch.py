"""Restarting the branch: a new root commit (and commits on top), swapped in with one CAS.

The whole new chain is built as objects first and the ref moves once, from the tip the caller
planned against; a crash or a concurrent writer leaves the branch exactly as it was.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gitstore import changes as ch
from gitstore.commits import compose_message, new_commit
from gitstore.errors import GitStoreError
from gitstore.store import LogStore


@dataclass(frozen=True)
class Step:
    """One commit of the new chain: its changes, message, and (when rebuilt) original author."""
    changes: Mapping[str, ch.Change]
    message: str
    trailers: Mapping[str, str] | None = None
    author: str | None = None          # "Name <email>"; default: the committer
    author_time: int | None = None


def split_author(header: str) -> tuple[str, int]:
    """("Name <email>", seconds) from a commit's `author` header value."""
    ident, _, rest = header.rpartition(">")
    stamp = rest.split()
    if not ident or not stamp or not stamp[0].lstrip("-").isdigit():
        raise GitStoreError(f"unreadable author line {header!r}")
    return ident + ">", int(stamp[0])


def restart(store: LogStore, expected_tip: str, base_tree: str | None,
            steps: Sequence[Step]) -> list[str]:
    """Replace the branch by a new root built on `base_tree` plus `steps`; their shas, in order.

    Raises without touching the ref when the branch is no longer at `expected_tip`.
    """
    if not steps:
        raise GitStoreError("a restarted branch needs at least its root commit")
    with store.locked():
        if store.tip != expected_tip:
            raise GitStoreError(f"{store.ref} moved (now {store.tip}); nothing was changed "
                                "(run the command again)")
        shas, written = _build_chain(store, base_tree, steps)
        if not store.swap_tip(expected_tip, shas[-1].encode()):
            raise GitStoreError(f"{store.ref} moved while the new chain was built; nothing "
                                "was changed (run the command again)")
        store.after_write(shas[-1], written)
    return shas


def _build_chain(store: LogStore, base_tree: str | None,
                 steps: Sequence[Step]) -> tuple[list[str], int]:
    """The chain's shas and the disk bytes written; objects stored, the ref not yet moved."""
    tree: bytes | None = base_tree.encode() if base_tree else None
    parent: bytes | None = None
    shas, written = [], 0
    for step in steps:
        tree, objects = ch.apply_changes(store.repo.object_store, tree, ch.validated(step.changes))
        author = step.author.encode() if step.author else None
        commit = new_commit(tree, [parent] if parent else [],
                            compose_message(step.message, step.trailers), store.identity,
                            store.signer, author=author, author_time=step.author_time)
        written += store.add_objects(objects) + store.add_objects([commit])
        parent = commit.id
        shas.append(commit.id.decode())
    return shas, written
