"""Reading the log branch's commits: one `git log --pretty=raw` stream, parsed here."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitstore.errors import GitStoreError
from gitstore.sigstatus import SIGNED, UNSIGNED

_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")
_GPGSIG = re.compile(rb"\ngpgsig ([^\n]*(?:\n [^\n]*)*)")
# git writes a commit's first headers in this order: tree, parents, author, committer.
_HEADERS = re.compile(rb"tree ([0-9a-f]+)\n((?:parent [0-9a-f]+\n)*)author ([^\n]*)\n"
                      rb"committer [^\n]* (-?[0-9]+) [-+][0-9]{4}(?:\n|$)")


@dataclass
class LogEntry:
    sha: str
    parents: tuple[str, ...]
    tree: str
    message: str
    trailers: dict[str, str]
    timestamp: int                 # committer time, seconds since the epoch (UTC)
    author: str
    signature: str                 # "unsigned", "signed" (not checked), or a verify status
    signer: str | None = None      # fingerprint, once verified
    payload: bytes = field(default=b"", repr=False)
    gpgsig: bytes = field(default=b"", repr=False)

    @property
    def summary(self) -> str:
        return self.message.split("\n", 1)[0]


def parse_trailers(message: str) -> dict[str, str]:
    """`Key: value` lines of the message's last paragraph (git's trailer block)."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    if len(paragraphs) < 2:
        return {}
    matches = [_TRAILER.match(line) for line in paragraphs[-1].splitlines()]
    if not all(matches):
        return {}
    return {m.group(1): m.group(2) for m in matches if m}


def split_signature(head: bytes) -> tuple[bytes, bytes]:
    """(headers without the gpgsig header, the signature) of a commit's header block.

    The payload git verifies is the commit without that header; continuation lines of the
    signature start with one space.
    """
    found = _GPGSIG.search(head)
    if found is None:
        return head, b""
    return head[:found.start()] + head[found.end():], found.group(1).replace(b"\n ", b"\n")


def parse_raw_commit(sha: str, raw: bytes) -> LogEntry:
    """A LogEntry from a commit object's raw bytes (headers, blank line, message)."""
    cut = raw.find(b"\n\n")
    head, body = (raw, b"") if cut < 0 else (raw[:cut], raw[cut + 2:])
    unsigned, gpgsig = split_signature(head)
    headers = _HEADERS.match(unsigned)
    if headers is None:
        raise GitStoreError(f"commit {sha} is malformed (run `git fsck`)")
    tree, parents, author, committer_time = headers.groups()
    message = body.decode("utf-8", errors="replace")
    return LogEntry(
        sha=sha, parents=tuple(parents.decode().split()[1::2]), tree=tree.decode(), message=message,
        trailers=parse_trailers(message), timestamp=int(committer_time),
        author=author.decode(errors="replace"), signature=SIGNED if gpgsig else UNSIGNED,
        gpgsig=gpgsig, payload=unsigned + b"\n\n" + body)


def parse_cat_file_batch(stream: bytes) -> list[LogEntry]:
    """Entries from `git cat-file --batch` output of commits, in stream order."""
    entries, pos = [], 0
    while pos < len(stream):
        eol = stream.index(b"\n", pos)
        sha, kind, size = stream[pos:eol].split(b" ")
        start, end = eol + 1, eol + 1 + int(size)
        if kind == b"commit":
            entries.append(parse_raw_commit(sha.decode(), stream[start:end]))
        pos = end + 1
    return entries
