"""Typed reads from dulwich's object store: a commit, a tree, a blob's bytes by their id.

dulwich's store hands back the base ShaFile for any id; these say what the caller expects and
fail with a clear error when the object is of another kind (a damaged or hand-made branch).
"""
from __future__ import annotations

from typing import TypeVar

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, Commit, ObjectID, ShaFile, Tree

from gitstore.errors import GitStoreError

T = TypeVar("T", bound=ShaFile)


def read_object(store: BaseObjectStore, sha: bytes, kind: type[T]) -> T:
    obj = store[ObjectID(sha)]
    if not isinstance(obj, kind):
        raise GitStoreError(f"object {sha.decode(errors='replace')} is a {obj.type_name.decode()}, "
                            f"not a {kind.type_name.decode()} (run `git fsck`)")
    return obj


def read_commit(store: BaseObjectStore, sha: bytes) -> Commit:
    return read_object(store, sha, Commit)


def read_tree(store: BaseObjectStore, sha: bytes) -> Tree:
    return read_object(store, sha, Tree)


def blob_data(store: BaseObjectStore, sha: bytes) -> bytes:
    return read_object(store, sha, Blob).data
