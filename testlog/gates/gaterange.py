"""What a coverage gate compares with: the start of the changed range (its added lines are the
patch) and the base (the module's coverage there is the reference of the delta).

The base is the merge-base of the change with the remote's default branch, as Codecov's
project status compares a pull request with its base: a second push of a topic branch is still
judged against main, not against the first push.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from gitstore import commit_sha, merge_base, remote_default_branch, shallow_hint

from testlog.core.manifest import Manifest
from testlog.core.modules import inside
from testlog.errors import UsageError
from testlog.gates.later import Later, answer

# Finding a base asks git (and maybe the remote) several questions; a hook asks them on a
# thread while the tests run, since the base matters only once they are measured.
Found = tuple[str | None, str]          # (base commit, how it was found)


def later(question: Callable[[], Found]) -> Later[Found]:
    return Later(question)


@dataclass(frozen=True)
class GateRange:
    start: str | None                    # changed lines: from this commit to the working tree
    found: Found | Later[Found] = (None, "")    # the delta's reference commit, how found

    @property
    def base(self) -> str | None:
        return self._found()[0]

    @property
    def base_from(self) -> str:
        return self._found()[1]

    def _found(self) -> Found:
        return answer(self.found)


@dataclass(frozen=True)
class Ranges:
    """The range of each module: the first pushed ref that touches it, else `default`."""
    default: GateRange | None = None
    spans: tuple[tuple[tuple[str, ...], GateRange], ...] = field(default=())  # (files, range)

    def of(self, manifest: Manifest, owns: list[str] | None = None) -> GateRange | None:
        for files, span in self.spans:
            if any(any(inside(f, folder) for folder in owns or [manifest.root]) for f in files):
                return span
        return self.default


def default_branch_base(root: str, remote: str | None, commit: str) -> tuple[str | None, str]:
    """(merge-base of `commit` with `remote`'s default branch, how it was found)."""
    if not remote:
        return None, ""
    default = remote_default_branch(root, remote)
    if not default:
        return None, ""
    found = merge_base(root, default, commit)
    return (found, f"merge-base with {remote}'s default branch") if found else (None, "")


def resolved(root: str, rev: str, what: str) -> str:
    sha = commit_sha(root, rev)
    if sha is None:
        raise UsageError(f"{what} {rev!r} is not a commit here (give a commit, branch or tag"
                         f"{shallow_hint(root)})")
    return sha


def explicit_range(root: str, head: str | None, base_rev: str | None, from_rev: str | None,
                   uncommitted: bool, remote: str | None) -> GateRange | None:
    """The range of `gate`/`cov`: --base, else --from, else HEAD for uncommitted changes, else
    the merge-base of HEAD with the remote's default branch; None when there is none."""
    start = resolved(root, from_rev, "--from") if from_rev else (head if uncommitted else None)
    if base_rev:
        base = resolved(root, base_rev, "--base")
        return GateRange(start or base, (base, f"--base {base_rev}"))
    if from_rev and start:
        return GateRange(start, (start, f"--from {from_rev}"))
    if uncommitted and head:
        return GateRange(head, (head, "HEAD (the uncommitted changes)"))
    if head is None:
        return None
    found, how = default_branch_base(root, remote, head)
    return GateRange(found, (found, how)) if found else None
