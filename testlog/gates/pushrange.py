"""The files a push or a commit changes, as the hooks see them (git's stdin, pre-commit's
environment, or the index)."""
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


def pushed_files(root: str, remote: str | None, refs: list[PushedRef], log_branch: str,
                 head: str | None) -> tuple[list[str], list[str]]:
    """(changed files over every pushed ref, one note per ref saying what was done with it)."""
    changed: set[str] = set()
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
        what = f"{len(files)} file(s) changed since {base[:10]}" if base \
            else f"all {len(files)} files (no history in common with the remote)"
        notes.append(f"{ref.local_ref} -> {ref.remote_ref}: {what}")
        if head and ref.local_sha != head:
            notes.append(f"note: the tests run on the working tree (HEAD {head[:10]}), not on "
                         f"the pushed {ref.local_ref} ({ref.local_sha[:10]})")
    hint = shallow_hint(root)
    if hint and refs:
        notes.append(f"note: the pushed range may be misjudged{hint}")
    return sorted(changed), notes


def framework_range() -> tuple[str, str] | None:
    """(from, to) when running under the pre-commit framework's pre-push stage."""
    start, end = os.environ.get("PRE_COMMIT_FROM_REF"), os.environ.get("PRE_COMMIT_TO_REF")
    return (start, end) if start and end else None
