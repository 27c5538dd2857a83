"""Trees of the log branch already found safe (treecheck.check_tree), remembered between
processes.

A tree id names its whole content, so a tree found safe once stays safe. Remembering the trees
of recent tips spares each process a walk of the whole tip, which grows with the history (a
gate's reports fill a folder a day): a write then checks only the folders it changed. The file
is the repository's own (`<state dir>/safe-trees`), never fetched or pushed; losing it, or
another process replacing it at the same moment, only costs a walk.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, MutableSet

SAFE_TREES = "safe-trees"        # the file's name in the state folder
KEEP = 256                       # ids kept, most recently used last: a write adds 3-6
_ID = re.compile(rb"[0-9a-f]{40}")


class SafeTrees(MutableSet[bytes]):
    """A set of hex tree ids, loaded from `path` and saved back by `save()`. Asking for an id
    refreshes it, so the trees every tip still shares are the last to be dropped."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self._ids: dict[bytes, None] = {}
        self._changed = False
        if path is not None:
            try:
                with open(path, "rb") as handle:
                    for line in handle.read(KEEP * 41 * 2).splitlines():
                        if _ID.fullmatch(line):
                            self._ids[line] = None
            except OSError:
                pass

    def __contains__(self, sha: object) -> bool:
        if not isinstance(sha, bytes) or sha not in self._ids:
            return False
        del self._ids[sha]
        self._ids[sha] = None
        return True

    def __iter__(self) -> Iterator[bytes]:
        return iter(list(self._ids))

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, sha: bytes) -> None:
        if sha not in self:
            self._ids[sha] = None
            self._changed = True

    def discard(self, sha: bytes) -> None:
        if self._ids.pop(sha, 0) is None:
            self._changed = True

    def save(self) -> None:
        """Write the newest KEEP ids (atomically) when new ones were found; a folder that does
        not exist yet or cannot be written leaves it unsaved."""
        if self.path is None or not self._changed or not os.path.isdir(os.path.dirname(self.path)):
            return
        kept = list(self._ids)[-KEEP:]
        temp = f"{self.path}.{os.getpid()}.tmp"
        try:
            with open(temp, "wb") as handle:
                handle.write(b"".join(sha + b"\n" for sha in kept))
            os.replace(temp, self.path)
            self._changed = False
        except OSError:
            try:
                os.unlink(temp)
            except OSError:
                pass
