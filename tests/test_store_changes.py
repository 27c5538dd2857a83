"""Applying one write's changes to a tree (a real in-memory dulwich object store; no git)."""
from __future__ import annotations

from pathlib import Path

import pytest
from dulwich.object_store import MemoryObjectStore
from dulwich.objects import Blob, Tree

from gitstore import Append, GitStoreError
from gitstore.changes import Existing, apply_changes, validated

from tests.fixtures import git
from tests.store_helpers import fsck, open_store


def files_of(store: MemoryObjectStore, tree_id: bytes) -> dict[str, bytes]:
    return {e.path.decode(): store[e.sha].data for e in store.iter_tree_contents(tree_id)}


def apply_all(steps: list[dict]) -> dict[str, bytes] | str:
    """Apply each write in turn; the files at the end, or the first error's message."""
    store, tree = MemoryObjectStore(), None
    try:
        for step in steps:
            tree, objects = apply_changes(store, tree, validated(step))
            for obj in objects:
                store.add_object(obj)
    except GitStoreError as exc:
        return str(exc)
    return files_of(store, tree)


@pytest.mark.parametrize("steps, result", [
    ([{"a": b"1"}, {"a": Append(b"2")}, {"a": Append(b"3")}], {"a": b"123"}),
    ([{"l/x.ndjson": Append(b"1\n")}], {"l/x.ndjson": b"1\n"}),
    ([{"a/b": b"1", "c": b"2"}, {"a/b": None}], {"c": b"2"}),       # emptied dirs vanish
    ([{"x": b"1"}, {"a/b/c": None}], {"x": b"1"}),                  # deleting nothing
    ([{"a": b"1"}, {"a/b/c": None}], {"a": b"1"}),                  # nothing under a file
    ([{"a": b"1"}, {"a": None, "a/b": b"2"}], {"a/b": b"2"}),       # file becomes directory
    ([{"a/b": b"1"}, {"a/b": None, "a": b"2"}], {"a": b"2"}),       # and back
    ([{"a": b"1"}, {"a/b": b"2"}], "'a' is a file on the log branch: cannot write 'a/b'"),
    ([{"a/b": b"1"}, {"a": b"2"}], "'a' is a directory on the log branch"),
    ([{"a/b": b"1"}, {"a": None}], "'a' is a directory on the log branch"),
    ([{"a": b"1", "a/b": b"2"}], "cannot write both 'a' and 'a/b'"),
    ([{"d/e/f": b"1"}, {"d/e/f/g": Append(b"x")}], "'d/e/f' is a file on the log branch"),
])
def test_apply_changes(steps: list[dict], result):
    out = apply_all(steps)
    assert out == result if isinstance(result, dict) else result in out


def test_only_trees_along_changed_paths_are_new():
    store = MemoryObjectStore()
    tree, objects = apply_changes(store, None, validated(
        {f"d{i}/f{j}": b"%d%d" % (i, j) for i in range(3) for j in range(3)}))
    for obj in objects:
        store.add_object(obj)
    _, changed = apply_changes(store, tree, validated({"d1/f0": b"new"}))
    assert sorted(type(o).__name__ for o in changed) == ["Blob", "Tree", "Tree"]   # blob, d1/, root


def test_apply_changes_deletes_puts_and_appends_on_a_stored_tree():
    store = MemoryObjectStore()
    base, objects = apply_changes(store, None, validated({"keep": b"k", "gone": b"g"}))
    for obj in objects:
        store.add_object(obj)
    root, objects = apply_changes(store, base, validated(
        {"gone": None, "runs/new.json": b"{}", "keep": Append(b"+")}))
    for obj in objects:
        store.add_object(obj)
    assert files_of(store, root) == {"keep": b"k+", "runs/new.json": b"{}"}
    assert isinstance(store[root], Tree)


def test_existing_objects_can_be_written_by_path(repo: Path):
    with open_store(repo, sign_key=False) as store:
        store.write({"src.txt": b"shared"}, "one")
        blob = Blob.from_string(b"shared")
        store.write({"copy/of/src.txt": Existing(0o100644, blob.id)}, "two")
        assert store.read("copy/of/src.txt") == b"shared"
    assert git(repo, "show", "testlog:copy/of/src.txt") == "shared"
    fsck(repo)
