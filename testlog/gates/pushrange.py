"""The files a push or a commit changes, as the hooks see them (git's stdin, pre-commit's
environment, or the index), and the range each gate judges them against."""
from __future__ import annotations

import os

from gitstore import (
    changed_files,
    commit_sha,
    files_at,
    merge_base,
    new_commits_base,
    remote_default_branch,
    shallow_hint,
)

from testlog.core.prepush import DELETE, LOG_BRANCH, NEW, PushedRef, classify
from testlog.errors import UsageError
from testlog.gates.gaterange import GateRange, Ranges, default_branch_base, later


def ref_base(root: str, remote: str | None, ref: PushedRef, kind: str) -> str | None:
    """Where the pushed range starts; None when every file of the pushed commit is new."""
    if kind != NEW and commit_sha(root, ref.remote_sha):
        return ref.remote_sha
    # A new branch (or a remote sha we have not fetched): from the merge-base with the
    # remote's default branch, else from the first commit no ref of that remote has.
    default = remote_default_branch(root, remote) if remote else None
    if default and (base := merge_base(root, default, ref.local_sha)):
        return base
    return new_commits_base(root, ref.local_sha, remote) if remote else None


def delta_base(root: str, remote: str | None, ref: PushedRef, start: str | None) -> GateRange:
    """The range of one pushed ref: its changed lines from `start`, its coverage against the
    merge-base with the remote's default branch (else against `start`), found on a thread."""
    def find() -> tuple[str | None, str]:
        base, how = default_branch_base(root, remote, ref.local_sha)
        return (base, how) if base else (start, f"the remote's {ref.remote_ref}" if start else "")
    return GateRange(start, later(find))


def pushed_files(root: str, remote: str | None, refs: list[PushedRef], log_branch: str,
                 head: str | None) -> tuple[list[str], Ranges, list[str]]:
    """(changed files over every pushed ref, the range of each ref, one note per ref)."""
    changed: set[str] = set()
    spans = []
    notes = []
    for ref in refs:
        kind = classify(ref, log_branch)
        if kind == DELETE:
            notes.append(f"{ref.remote_ref}: deleted, nothing to check")
            continue
        if kind == LOG_BRANCH:
            notes.append(f"{ref.remote_ref}: the log branch, never gated")
            continue
        base = ref_base(root, remote, ref, kind)
        files = changed_files(root, base, ref.local_sha) if base \
            else files_at(root, ref.local_sha)
        changed.update(files)
        spans.append((tuple(files), delta_base(root, remote, ref, base)))
        what = f"{len(files)} file(s) changed since {base[:10]}" if base \
            else f"all {len(files)} files (no history in common with the remote)"
        notes.append(f"{ref.local_ref} -> {ref.remote_ref}: {what}")
        if head and ref.local_sha != head:
            notes.append(f"note: the tests run on the working tree (HEAD {head[:10]}), not on "
                         f"the pushed {ref.local_ref} ({ref.local_sha[:10]})")
    hint = shallow_hint(root)
    if hint and refs:
        notes.append(f"note: the pushed range may be misjudged{hint}")
    return sorted(changed), Ranges(spans=tuple(spans)), notes


def framework_range() -> tuple[str, str] | None:
    """(from, to) as given when running under the pre-commit framework's pre-push stage."""
    start, end = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    return (start, end) if start and end else None


def framework_files(root: str, span: tuple[str, str]) -> tuple[list[str], Ranges]:
    """The files changed between pre-commit's FROM_REF and TO_REF, and their range."""
    shas = []
    for name, rev in zip(("PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF"), span):
        sha = commit_sha(root, rev)
        if sha is None:
            raise UsageError(f"{name}={rev} is not a commit here{shallow_hint(root)}")
        shas.append(sha)
    remote = os.environ.get("PRE_COMMIT_REMOTE_NAME") or None

    def find() -> tuple[str | None, str]:
        base, how = default_branch_base(root, remote, shas[1])
        return (base, how) if base else (shas[0], f"PRE_COMMIT_FROM_REF {span[0]}")
    return changed_files(root, *shas), Ranges(default=GateRange(shas[0], later(find)))
