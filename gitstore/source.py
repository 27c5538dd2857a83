"""The state of a working tree against HEAD: commit, tree, and the diff that makes it dirty.

Read-only: every git call runs with `--no-optional-locks`, so not even git's opportunistic
index refresh writes to the user's repository.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from gitstore.gitcmd import empty_tree, run_git

_READ_ONLY = ("--no-optional-locks",)
# A patch that `git apply` takes back whatever the user's diff settings are.
_DIFF_ARGS = ("diff", "--binary", "--no-color", "--no-ext-diff", "--no-textconv",
              "--src-prefix=a/", "--dst-prefix=b/", "--no-relative")


@dataclass(frozen=True)
class SourceInfo:
    """HEAD's commit and tree (None when HEAD is unborn) and the uncommitted changes."""
    commit: str | None
    tree: str | None
    diff: bytes = b""                                    # staged + unstaged, against HEAD
    untracked: tuple[str, ...] = field(default=())       # not in the diff: never staged

    @property
    def dirty(self) -> bool:
        return bool(self.diff)


def _git(args: list[str], cwd: str, check: bool = True) -> bytes:
    proc = run_git([*_READ_ONLY, *args], cwd, check=check)
    return proc.stdout if proc.returncode == 0 else b""


def head_commit_and_tree(cwd: str) -> tuple[str | None, str | None]:
    """(commit, tree) of HEAD, or (None, None) on an unborn branch."""
    out = _git(["rev-parse", "--quiet", "HEAD^{commit}", "HEAD^{tree}"], cwd, check=False)
    lines = out.decode().split()
    return (lines[0], lines[1]) if len(lines) == 2 else (None, None)


def working_diff(cwd: str, base: str) -> bytes:
    """`git diff <base> --binary`: staged and unstaged changes of tracked files."""
    return _git([*_DIFF_ARGS, base, "--"], cwd)


def untracked_files(cwd: str) -> tuple[str, ...]:
    """Paths git does not track and does not ignore, relative to the top of the tree."""
    out = _git(["ls-files", "--others", "--exclude-standard", "-z", "--full-name", ":/"], cwd)
    return tuple(sorted(p.decode("utf-8", errors="surrogateescape") for p in out.split(b"\0") if p))


def source_info(cwd: str | os.PathLike[str]) -> SourceInfo:
    """What is checked out at `cwd` (a working tree), for recording alongside results."""
    path = os.fspath(cwd)
    commit, tree = head_commit_and_tree(path)
    diff = working_diff(path, commit or empty_tree(path))
    return SourceInfo(commit=commit, tree=tree, diff=diff, untracked=untracked_files(path))
