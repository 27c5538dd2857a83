"""Where a repository is and what its log branch is called: one `git rev-parse`, no dulwich
(the pytest process checks these before any test runs, and should not pay for dulwich)."""
from __future__ import annotations

import os

from gitstore.errors import GitStoreError, GitStoreInputError
from gitstore.gitcmd import run_git

# git-check-ref-format(1): characters no ref name may contain, and sequences it may not hold.
_FORBIDDEN_CHARS = frozenset(" ~^:?*[\\\x7f") | frozenset(chr(c) for c in range(32))
_FORBIDDEN_SEQUENCES = ("..", "@{", "//")


def valid_ref_name(name: str) -> bool:
    """The rules of git-check-ref-format(1) for a full ref name (`refs/...`)."""
    if (name in ("", "@") or "/" not in name or name.startswith("/") or name.endswith(("/", "."))
            or any(seq in name for seq in _FORBIDDEN_SEQUENCES)
            or any(c in _FORBIDDEN_CHARS for c in name)):
        return False
    return not any(part.startswith(".") or part.endswith(".lock") for part in name.split("/"))


def full_ref(ref: str) -> str:
    """`log` → `refs/heads/log`; refuse names git would refuse (as a ref, and as a branch:
    `git check-ref-format --branch` refuses `HEAD` and names starting with `-`)."""
    name = ref if ref.startswith("refs/") else f"refs/heads/{ref}"
    branch = name.removeprefix("refs/heads/") if name.startswith("refs/heads/") else None
    if not valid_ref_name(name) or branch == "HEAD" or (branch or "").startswith("-"):
        raise GitStoreInputError(f"invalid log branch name {ref!r}")
    return name


def locate(path: str | os.PathLike[str]) -> tuple[str, str, str | None]:
    """(common git dir, this worktree's git dir, top of the working tree or None when bare)."""
    if not os.path.isdir(path):
        raise GitStoreInputError(f"not a directory: {path}")
    # One git call; --show-toplevel comes last because it fails in a bare repo or inside .git.
    proc = run_git(["rev-parse", "--path-format=absolute", "--git-common-dir", "--git-dir",
                    "--is-bare-repository", "--show-object-format", "--show-toplevel"],
                   path, check=False)
    lines = proc.stdout.decode().split("\n")
    if len(lines) < 4:
        reason = " ".join(proc.stderr.decode(errors="replace").replace("fatal:", "").split())
        if reason and "not a git repository" not in reason:
            raise GitStoreError(f"git cannot use the repository at {os.path.abspath(path)}: "
                                f"{reason}")
        raise GitStoreInputError(f"not a git repository: {os.path.abspath(path)} (run `git init`, "
                            "or run inside a repository)")
    common, git_dir, bare, object_format = lines[:4]
    if object_format != "sha1":
        raise GitStoreError(f"{common} uses {object_format} object names; the log branch "
                            "supports SHA-1 repositories only")
    if bare == "true":
        return common, git_dir, None
    top = lines[4] if proc.returncode == 0 and len(lines) > 4 else _work_tree_of(git_dir)
    return common, git_dir, top or None


def _work_tree_of(git_dir: str) -> str | None:
    """The working tree of a git dir opened from inside it (where --show-toplevel fails)."""
    link = os.path.join(git_dir, "gitdir")       # a linked worktree's <tree>/.git
    if os.path.isfile(link):
        with open(link) as handle:
            return os.path.dirname(handle.read().strip())
    return os.path.dirname(git_dir) if os.path.basename(git_dir) == ".git" else None
