"""Typed reads from dulwich's object store: a commit, a tree, a blob's bytes by their id.

dulwich's store hands back the base ShaFile for any id; these say what the caller expects and
fail with a clear error when the object is of another kind (a damaged or hand-made branch).
"""
from __future__ import annotations

import os
from typing import TypeVar

from dulwich.object_store import BaseObjectStore, DiskObjectStore
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree

from gitstore.errors import GitStoreError

T = TypeVar("T", bound=ShaFile)


def read_object(store: BaseObjectStore, sha: bytes, kind: type[T]) -> T:
    obj = loose_object(store, sha) or store[ObjectID(sha)]
    if not isinstance(obj, kind):
        raise GitStoreError(f"object {sha.decode(errors='replace')} is a {obj.type_name.decode()}, "
                            f"not a {kind.type_name.decode()} (run `git fsck`)")
    return obj


def loose_object(store: BaseObjectStore, sha: bytes) -> ShaFile | None:
    """The object if it is loose, else None. Looked up first because dulwich looks in every
    pack (loading each index) and rescans the pack folder before it looks at loose objects, and
    a log's newest objects, its tip among them, stay loose until the next packing: every write
    would pay a search of all packs for each object of the tip it reads."""
    if not isinstance(store, DiskObjectStore) or len(sha) != 40:
        return None
    name = sha.decode("ascii", errors="replace")
    try:
        return ShaFile.from_path(os.path.join(store.path, name[:2], name[2:]), ObjectID(sha),
                                 max_size=store.loose_object_size_limit)
    except FileNotFoundError:
        return None


def read_commit(store: BaseObjectStore, sha: bytes) -> Commit:
    return read_object(store, sha, Commit)


def read_tree(store: BaseObjectStore, sha: bytes) -> Tree:
    return read_object(store, sha, Tree)


def blob_data(store: BaseObjectStore, sha: bytes) -> bytes:
    return read_object(store, sha, Blob).data
