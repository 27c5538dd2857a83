"""The one rule for names and paths on the log branch, for what is written and what is read.

A name is one segment of a path. git fsck only warns about some of these (and `git mktree`,
`git push` to a default remote and `git fetch` accept them all), so the log branch may hold
anything; whatever reads it checks each name with `name_problem` before using it.
"""
from __future__ import annotations

import re

from gitstore.errors import GitStoreError

_FORBIDDEN = {"", ".", "..", ".git"}
MAX_NAME_BYTES = 255            # what common filesystems take in one name
# C0 controls, DEL and C1 controls: a terminal acts on them, a file name needs none of them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")


def name_problem(name: bytes) -> str | None:
    """Why `name` cannot be one segment of a path on the log branch; None when it can."""
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return "a name that is not UTF-8"
    # Windows drops trailing dots and spaces, and macOS ignores case: `.GIT.` is `.git` there.
    if text.rstrip(". ").lower() in _FORBIDDEN or text in _FORBIDDEN:
        return f"a {text!r} segment" if text else "an empty segment"
    if "/" in text or "\\" in text:
        return "a name with a slash or backslash"
    if _CONTROL.search(text):
        return "a name with a control character"
    if len(name) > MAX_NAME_BYTES:
        return f"a name longer than {MAX_NAME_BYTES} bytes"
    return None


def path_problem(path: str) -> str | None:
    """Why `path` cannot be a file's path on the log branch; None when it can."""
    if path.startswith("/"):
        return "an absolute path"
    for part in path.split("/"):
        problem = name_problem(part.encode("utf-8", "surrogateescape"))
        if problem is not None:
            return problem
    return None


def validate_path(path: str) -> bytes:
    """Return `path` as the bytes of a tree path, or raise for anything `git fsck` would flag."""
    if not isinstance(path, str) or not path:
        raise GitStoreError(f"invalid path {path!r} on the log branch: empty or not a string")
    if path_problem(path) is not None:
        raise GitStoreError(
            f"invalid path {path!r} on the log branch: use a relative path without "
            "empty, '.', '..' or '.git' segments")
    return path.encode("utf-8")
