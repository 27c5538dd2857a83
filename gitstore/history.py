"""Reading the log branch's commits: one `git log --pretty=raw` stream, parsed here."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from gitstore.signing import SIGNED, UNSIGNED

_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*): (.*)$")


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


def parse_raw_commit(sha: str, raw: bytes) -> LogEntry:
    """A LogEntry from a commit object's raw bytes (headers, blank line, message)."""
    head, _, body = raw.partition(b"\n\n")
    headers: dict[bytes, list[bytes]] = {}
    sig_lines: list[bytes] = []
    kept: list[bytes] = []         # the signed payload is the commit without its gpgsig header
    current = None
    for line in head.split(b"\n"):
        if line.startswith(b" "):
            target = sig_lines if current == b"gpgsig" else kept
            target.append(line[1:] if current == b"gpgsig" else line)
            continue
        current, _, value = line.partition(b" ")
        if current == b"gpgsig":
            sig_lines.append(value)
        else:
            kept.append(line)
            headers.setdefault(current, []).append(value)
    committer = headers.get(b"committer", [b"? 0 +0000"])[0].rsplit(b" ", 2)
    message = body.decode("utf-8", errors="replace")
    return LogEntry(
        sha=sha, parents=tuple(p.decode() for p in headers.get(b"parent", [])),
        tree=headers[b"tree"][0].decode(), message=message, trailers=parse_trailers(message),
        timestamp=int(committer[1]), author=headers.get(b"author", [b""])[0].decode(errors="replace"),
        signature=SIGNED if sig_lines else UNSIGNED, gpgsig=b"\n".join(sig_lines),
        payload=b"\n".join(kept) + b"\n\n" + body)


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
