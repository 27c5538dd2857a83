"""Declared inputs that are files or directories, hashed by their content (the one part of
describing values that reads the disk; core.hashing describes everything else)."""
from __future__ import annotations

import hashlib
import os
from typing import Any

from testlog.core.canonical import canonical_json
from testlog.core.hashing import sha_of


def file_hash(path: str) -> tuple[str, int]:
    """SHA-256 hex and size of a file's bytes."""
    h, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def _shown_path(path: str, rootdir: str) -> str:
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, rootdir)
    return absolute if relative.startswith("..") else relative.replace(os.sep, "/")


def describe_path(path: str, rootdir: str) -> dict[str, Any]:
    """A file (its bytes) or a directory (each file's path and bytes, in sorted order)."""
    shown = _shown_path(path, rootdir)
    if os.path.isfile(path):
        digest, size = file_hash(path)
        return {"kind": "file", "path": shown, "size": size, "hash": digest}
    entries = []
    for folder, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(folder, name)
            entries.append([os.path.relpath(full, path).replace(os.sep, "/"), file_hash(full)[0]])
    return {"kind": "dir", "path": shown, "files": len(entries),
            "hash": sha_of(b"dir:", canonical_json(entries))}


def is_path_input(value: Any) -> bool:
    """A Path, or a str naming an existing file or directory, is hashed by content."""
    if isinstance(value, os.PathLike):
        return True
    return isinstance(value, str) and len(value) < 4096 and "\0" not in value and os.path.exists(value)
