"""What one write does to the tree: put bytes, append bytes, or delete a path."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

from dulwich.diff_tree import tree_changes
from dulwich.object_store import BaseObjectStore, commit_tree_changes
from dulwich.objects import Blob, Tree

from gitstore.errors import GitStoreError
from gitstore.paths import validate_path

FILE_MODE = 0o100644


@dataclass(frozen=True)
class Append:
    """Bytes appended to the file at a path (created when missing): NDJSON ledgers, the chronicle."""
    data: bytes


Change = Union[bytes, Append, None]


def validated(changes: Mapping[str, Change]) -> dict[bytes, Change]:
    """Paths checked and encoded; values checked to be bytes, Append or None."""
    out: dict[bytes, Change] = {}
    for path, value in changes.items():
        if value is not None and not isinstance(value, (bytes, Append)):
            raise GitStoreError(f"value for {path!r} must be bytes, Append(bytes) or None")
        out[validate_path(path)] = value
    return out


def blob_at(store: BaseObjectStore, tree_id: bytes | None, path: bytes) -> Blob | None:
    """The blob at `path` in the tree, or None when absent (or a directory)."""
    if tree_id is None:
        return None
    obj = store[tree_id]
    for part in path.split(b"/"):
        if not isinstance(obj, Tree) or part not in obj:
            return None
        obj = store[obj[part][1]]
    return obj if isinstance(obj, Blob) else None


def new_blobs_and_changes(store: BaseObjectStore, base_tree: bytes | None,
                          changes: Mapping[bytes, Change]) -> tuple[list[Blob], list[tuple]]:
    """Blobs to add, and the (path, mode, sha) list for commit_tree_changes."""
    blobs, tree_changes = [], []
    for path, value in sorted(changes.items()):
        if value is None:
            if blob_at(store, base_tree, path) is not None:
                tree_changes.append((path, None, None))
            continue
        data = value
        if isinstance(value, Append):
            old = blob_at(store, base_tree, path)
            data = (old.data if old is not None else b"") + value.data
        blob = Blob.from_string(data)
        blobs.append(blob)
        tree_changes.append((path, FILE_MODE, blob.id))
    return blobs, tree_changes


def build_tree(store: BaseObjectStore, base_tree: bytes | None, tree_changes: list[tuple]) -> bytes:
    """The new root tree id; only the trees along changed paths are rewritten."""
    # A fresh in-memory Tree for the root commit (commit_tree_changes fills it in place).
    return commit_tree_changes(store, Tree() if base_tree is None else base_tree, tree_changes)


def replayed_changes(store: BaseObjectStore, old_tree: bytes | None, new_tree: bytes,
                     union_suffixes: tuple[str, ...]) -> dict[bytes, Change]:
    """The changes from `old_tree` to `new_tree` (None: a root commit), as a write would make them.

    A modified file whose old bytes prefix its new ones was appended to: Append the new bytes.
    A file added to an append-only log (`union_suffixes`, e.g. NDJSON ledgers) is an Append too,
    so rebuilding it on another tip unions both sides' lines instead of dropping one.
    """
    out: dict[bytes, Change] = {}
    for change in tree_changes(store, old_tree, new_tree):
        if change.type == "delete":
            out[change.old.path] = None
            continue
        path, new = change.new.path, store[change.new.sha].data
        old = store[change.old.sha].data if change.type == "modify" else None
        if old is not None and new.startswith(old):
            out[path] = Append(new[len(old):])
        elif old is None and path.decode().endswith(union_suffixes):
            out[path] = Append(new)
        else:
            out[path] = new
    return out
