"""Building commit objects, signed last (the signature covers every other byte)."""
from __future__ import annotations

import re
import time
from collections.abc import Mapping

from dulwich.objects import Commit, ObjectID

from gitstore.errors import GitStoreError
from gitstore.signer import Signer

# What git (and history.parse_trailers) read back as a trailer key.
TRAILER_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]*")


def compose_message(summary: str, trailers: Mapping[str, str] | None = None) -> bytes:
    """The commit message: text, then a `Key: value` trailer block when trailers are given."""
    text = summary.strip("\n")
    if not text:
        raise GitStoreError("a log commit needs a non-empty message")
    if trailers:
        for key, value in trailers.items():
            if not TRAILER_KEY.fullmatch(str(key)) or "\n" in str(value):
                raise GitStoreError(f"invalid trailer {key!r}: {value!r} (keys are letters, digits "
                                    "and '-'; values one line)")
        text += "\n\n" + "\n".join(f"{k}: {v}" for k, v in trailers.items())
    return (text + "\n").encode("utf-8")


def new_commit(tree: bytes, parents: list[bytes], message: bytes, committer: bytes,
               signer: Signer | None, author: bytes | None = None,
               author_time: int | None = None) -> Commit:
    """A commit in UTC; `author`/`author_time` are kept when a commit is rebuilt elsewhere."""
    now = int(time.time())
    commit = Commit()
    commit.tree = ObjectID(tree)
    commit.parents = [ObjectID(p) for p in parents]
    commit.author = author or committer
    commit.committer = committer
    commit.author_time = author_time if author_time is not None else now
    commit.commit_time = now
    commit.author_timezone = commit.commit_timezone = 0
    commit.message = message
    if signer is not None:
        commit.gpgsig = signer.sign(commit.as_raw_string())
    return commit
