"""git's pre-push input: one line per pushed ref, `<local ref> <local sha> <remote ref> <remote sha>`.

Pure: parsing and deciding what each ref needs. Running git to find the ranges is the hook's job.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from testlog.errors import UsageError

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")

# What a pushed ref asks of the gate.
DELETE = "delete"        # the remote ref is being deleted: nothing to check
LOG_BRANCH = "log"       # the log branch itself: never gated
NEW = "new"              # remote sha all zeros: diff against the merge-base with the default branch
UPDATE = "update"        # diff remote sha .. local sha


@dataclass(frozen=True)
class PushedRef:
    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


def is_zero(sha: str) -> bool:
    return set(sha) == {"0"}


def parse_push_lines(text: str) -> list[PushedRef]:
    """Every non-blank line as a PushedRef; a malformed line is an error naming it."""
    refs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 4 or not (_SHA.match(parts[1]) and _SHA.match(parts[3])):
            raise UsageError(f"pre-push input line {number} is not `<local ref> <local sha> "
                               f"<remote ref> <remote sha>`: {line.strip()!r}")
        refs.append(PushedRef(*parts))
    return refs


def branch_ref(name: str) -> str:
    return name if name.startswith("refs/") else f"refs/heads/{name}"


def classify(ref: PushedRef, log_branch: str) -> str:
    """DELETE, LOG_BRANCH, NEW or UPDATE."""
    log_ref = branch_ref(log_branch)
    if is_zero(ref.local_sha):
        return DELETE
    if log_ref in (ref.local_ref, ref.remote_ref):
        return LOG_BRANCH
    return NEW if is_zero(ref.remote_sha) else UPDATE
