"""What one write does to the tree: put bytes, append bytes, or delete a path."""
from __future__ import annotations

import stat
from collections.abc import Mapping
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore
from dulwich.objects import Blob, ObjectID, ShaFile, Tree

from gitstore.errors import GitStoreError
from gitstore.paths import validate_path
from gitstore.reading import blob_data, read_tree

FILE_MODE = 0o100644
DIR_MODE = stat.S_IFDIR


@dataclass(frozen=True)
class Append:
    """Bytes appended to the file at a path (created when missing): NDJSON ledgers, the chronicle."""
    data: bytes


@dataclass(frozen=True)
class Existing:
    """An object already in the store, placed at a path as is (replaying another commit)."""
    mode: int
    sha: bytes


Change = bytes | Append | Existing | None


def validated(changes: Mapping[str, Change]) -> dict[bytes, Change]:
    """Paths checked and encoded; values checked to be bytes, Append(bytes) or None."""
    out: dict[bytes, Change] = {}
    for path, value in changes.items():
        data = value.data if isinstance(value, Append) else value
        if data is not None and not isinstance(data, (bytes, Existing)):
            raise GitStoreError(f"value for {path!r} must be bytes, Append(bytes) or None")
        out[validate_path(path)] = value
    _refuse_file_and_directory(out)
    return out


def _refuse_file_and_directory(changes: Mapping[bytes, Change]) -> None:
    """One write cannot put a file at `a` and another under `a/`."""
    puts = {p for p, v in changes.items() if v is not None}
    for path in puts:
        parts = path.split(b"/")
        for i in range(1, len(parts)):
            parent = b"/".join(parts[:i])
            if parent in puts:
                raise GitStoreError(f"cannot write both {parent.decode()!r} and "
                                    f"{path.decode()!r}: one would be a file inside the other")


def blob_at(store: BaseObjectStore, tree_id: bytes | None, path: bytes) -> Blob | None:
    """The blob at `path` in the tree, or None when absent (or a directory)."""
    if tree_id is None:
        return None
    obj: ShaFile = read_tree(store, tree_id)
    for part in path.split(b"/"):
        if not isinstance(obj, Tree) or part not in obj:
            return None
        obj = store[obj[part][1]]
    return obj if isinstance(obj, Blob) else None


def apply_changes(store: BaseObjectStore, base_tree: bytes | None,
                  changes: Mapping[bytes, Change]) -> tuple[bytes, list[ShaFile]]:
    """(new root tree id, new blobs and trees to write); only trees along changed paths change.

    Refuses to replace a directory by a file or to write under a file (either would silently
    drop recorded data), and leaves no empty tree behind when a delete empties a directory.
    """
    split = [(tuple(path.split(b"/")), value) for path, value in changes.items()]
    new: list[ShaFile] = []
    root = _apply(store, base_tree, split, (), new)
    new.append(root)
    return root.id, new


def _apply(store: BaseObjectStore, tree_id: bytes | None, changes: list[tuple[tuple, Change]],
           prefix: tuple, new: list[ShaFile]) -> Tree:
    tree = Tree()
    if tree_id is not None:
        for entry in read_tree(store, tree_id).iteritems():
            tree.add(entry.path, entry.mode, entry.sha)
    direct = {parts[0]: value for parts, value in changes if len(parts) == 1}
    nested: dict[bytes, list[tuple[tuple, Change]]] = {}
    for parts, value in changes:
        if len(parts) > 1:
            nested.setdefault(parts[0], []).append((parts[1:], value))
    # Deletes first, so one write can turn a file into a directory or back.
    for name in sorted(n for n, v in direct.items() if v is None):
        _apply_file(store, tree, name, None, prefix, new)
    for name, sub in sorted(nested.items()):
        _apply_directory(store, tree, name, sub, prefix, new)
    for name, value in sorted((n, v) for n, v in direct.items() if v is not None):
        _apply_file(store, tree, name, value, prefix, new)
    return tree


def _apply_file(store: BaseObjectStore, tree: Tree, name: bytes, value: Change, prefix: tuple,
                new: list[ShaFile]) -> None:
    existing = tree[name] if name in tree else None
    if existing is not None and stat.S_ISDIR(existing[0]):
        raise GitStoreError(f"{_join(prefix, name)!r} is a directory on the log branch: "
                            "write or delete the files inside it instead")
    if value is None:
        if existing is not None:
            del tree[name]
        return
    if isinstance(value, Existing):
        tree[name] = (value.mode, ObjectID(value.sha))
        return
    if isinstance(value, Append):
        data = (blob_data(store, existing[1]) if existing is not None else b"") + value.data
    else:
        data = value
    blob = Blob.from_string(data)
    new.append(blob)
    tree[name] = (FILE_MODE, blob.id)


def _apply_directory(store: BaseObjectStore, tree: Tree, name: bytes,
                     sub: list[tuple[tuple, Change]], prefix: tuple, new: list[ShaFile]) -> None:
    existing = tree[name] if name in tree else None
    base = None
    if existing is not None and stat.S_ISDIR(existing[0]):
        base = existing[1]
    elif existing is not None:
        if all(value is None for _, value in sub):
            return              # deleting paths under a file: none of them exist
        inner = next(parts for parts, value in sub if value is not None)
        raise GitStoreError(f"{_join(prefix, name)!r} is a file on the log branch: cannot write "
                            f"{_join(prefix + (name,), b'/'.join(inner))!r} inside it")
    subtree = _apply(store, base, sub, prefix + (name,), new)
    if len(subtree) == 0:
        if existing is not None:
            del tree[name]
        return
    new.append(subtree)
    tree[name] = (DIR_MODE, subtree.id)


def _join(prefix: tuple, name: bytes) -> str:
    return b"/".join(prefix + (name,)).decode("utf-8", errors="replace")
