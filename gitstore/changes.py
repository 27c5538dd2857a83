"""What one write does to the tree: put bytes, append bytes, or delete a path."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Union

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
