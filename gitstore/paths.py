"""Validation of paths written to the log branch: git fsck rejects what dulwich lets through."""
from __future__ import annotations

from gitstore.errors import GitStoreError

_FORBIDDEN = {"", ".", "..", ".git"}


def validate_path(path: str) -> bytes:
    """Return `path` as the bytes of a tree path, or raise for anything `git fsck` would flag."""
    if not isinstance(path, str) or not path:
        raise GitStoreError(f"invalid path {path!r} on the log branch: empty or not a string")
    parts = path.split("/")
    bad = [p for p in parts if p.lower() in _FORBIDDEN or "\0" in p or "\\" in p]
    if path.startswith("/") or bad:
        raise GitStoreError(
            f"invalid path {path!r} on the log branch: use a relative path without "
            "empty, '.', '..' or '.git' segments")
    return path.encode("utf-8")
