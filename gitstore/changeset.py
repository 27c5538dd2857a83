"""What changed in a repository: diffs, staged and dirty files, merge bases, tree shas, remotes.

Generic git questions asked through `run_git`; paths are repository-relative, `/`-separated.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable

from gitstore.gitcmd import empty_tree, run_git

Cwd = str | os.PathLike[str]
REGULAR_MODES = ("100644", "100755")


def _z_paths(output: bytes) -> list[str]:
    return [p.decode("utf-8", "surrogateescape") for p in output.split(b"\0") if p]


def changed_files(cwd: Cwd, base: str, head: str) -> list[str]:
    """Files that differ between two commits (a rename counts as both its paths)."""
    proc = run_git(["diff", "--name-only", "-z", "--no-renames", "--no-ext-diff",
                    base, head, "--"], cwd)
    return sorted(set(_z_paths(proc.stdout)))


def staged_files(cwd: Cwd, index_file: str | None = None) -> list[str]:
    """Files whose staged content differs from HEAD (all staged files before the first commit).

    `index_file`: the index git hands a pre-commit hook in GIT_INDEX_FILE (`commit -a` and
    `commit <paths>` stage into a temporary index, not .git/index).
    """
    base = head_commit(cwd) or empty_tree(cwd)
    env = {"GIT_INDEX_FILE": os.path.abspath(os.path.join(cwd, index_file))} if index_file else None
    proc = run_git(["diff", "--cached", "--name-only", "-z", "--no-renames", base, "--"], cwd,
                   env=env)
    return sorted(set(_z_paths(proc.stdout)))


def worktree_changes(cwd: Cwd) -> list[str]:
    """Files that differ from HEAD in the index or the working tree, plus untracked files."""
    proc = run_git(["status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all"], cwd)
    return sorted({entry[3:] for entry in _z_paths(proc.stdout) if len(entry) > 3})


def files_at(cwd: Cwd, rev: str) -> list[str]:
    """Every file in the tree of `rev`."""
    return _z_paths(run_git(["ls-tree", "-r", "-z", "--name-only", rev], cwd).stdout)


def blobs_under(cwd: Cwd, rev: str, folder: str) -> list[tuple[str, str, int]]:
    """(path, blob id, size) of every regular file under `folder` in the tree of `rev`, in
    path order (no symlink, no submodule); [] when there is no such folder or revision."""
    proc = run_git(["ls-tree", "-r", "-z", "-l", "--full-tree", rev, "--", folder], cwd,
                   check=False)
    if proc.returncode != 0:
        return []
    found = []
    for entry in _z_paths(proc.stdout):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 4 and parts[0] in REGULAR_MODES and parts[1] == "blob" and \
                parts[3].isdigit() and \
                path.startswith(folder.rstrip("/") + "/"):
            found.append((path, parts[2], int(parts[3])))
    return found


def listed_files(cwd: Cwd) -> list[str]:
    """Tracked and untracked-but-not-ignored files of the working tree."""
    proc = run_git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd)
    return sorted(set(_z_paths(proc.stdout)))


def head_commit(cwd: Cwd) -> str | None:
    """The commit HEAD points at, or None on an unborn branch."""
    return commit_sha(cwd, "HEAD")


def commit_sha(cwd: Cwd, rev: str) -> str | None:
    """The full sha of the commit `rev` names, or None when there is no such commit here."""
    proc = run_git(["rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"],
                   cwd, check=False)
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and sha else None


def merge_base(cwd: Cwd, a: str, b: str) -> str | None:
    proc = run_git(["merge-base", a, b], cwd, check=False)
    sha = proc.stdout.decode().strip()
    return sha if proc.returncode == 0 and sha else None


def tree_shas(cwd: Cwd, rev: str, paths: Iterable[str]) -> dict[str, str]:
    """The tree sha of each directory path at `rev` ("" is the root); absent paths are left out."""
    wanted = sorted(set(paths))
    query = "".join(f"{rev}^{{tree}}\n" if not p else f"{rev}:{p}\n" for p in wanted)
    proc = run_git(["cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd,
                   input=query.encode("utf-8", "surrogateescape"))
    found = {}
    for path, line in zip(wanted, proc.stdout.decode().splitlines()):
        sha, _, kind = line.partition(" ")
        if kind == "tree":
            found[path] = sha
    return found


def remote_default_branch(cwd: Cwd, remote: str) -> str | None:
    """A local commit sha for the remote's default branch, or None when it cannot be told.

    Tries the remote-tracking `<remote>/HEAD`, then asks the remote what its HEAD is
    (`ls-remote --symref`: a local path or an URL works as `remote`), then the usual names
    `main` and `master` among the remote-tracking branches.
    """
    proc = run_git(["symbolic-ref", "--quiet", f"refs/remotes/{remote}/HEAD"], cwd, check=False)
    if proc.returncode == 0 and (sha := commit_sha(cwd, proc.stdout.decode().strip())):
        return sha
    branch, advertised = _advertised_head(cwd, remote)
    candidates = [f"refs/remotes/{remote}/{branch}"] if branch else []
    candidates += [advertised] if advertised else []
    candidates += [f"refs/remotes/{remote}/main", f"refs/remotes/{remote}/master"]
    for rev in candidates:
        if sha := commit_sha(cwd, rev):
            return sha
    return None


def _advertised_head(cwd: Cwd, remote: str) -> tuple[str | None, str | None]:
    """(branch name, sha) of the remote's HEAD as the remote itself reports it."""
    proc = run_git(["ls-remote", "--symref", remote, "HEAD"], cwd, check=False)
    branch = sha = None
    for line in proc.stdout.decode(errors="replace").splitlines():
        left, _, right = line.partition("\t")
        if right != "HEAD":
            continue
        if left.startswith("ref: refs/heads/"):
            branch = left[len("ref: refs/heads/"):]
        elif re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", left):
            sha = left
    return branch, sha


def new_commits_base(cwd: Cwd, head: str, remote: str) -> str | None:
    """Parent of the oldest commit of `head` no remote-tracking branch of `remote` has.

    None when that commit is a root (everything is new) or `head` has nothing new.
    """
    proc = run_git(["rev-list", "--topo-order", "--reverse", head, "--not",
                    f"--remotes={remote}"], cwd, check=False)
    shas = proc.stdout.decode().split()
    if not shas:
        return head
    parents = run_git(["rev-list", "--parents", "-n1", shas[0]], cwd).stdout.decode().split()[1:]
    return parents[0] if parents else None


USER_REF_PREFIXES = ("refs/heads/", "refs/tags/", "refs/remotes/")


def user_refs(cwd: Cwd, excluded: Iterable[str] = (), contains: str | None = None) -> list[str]:
    """Branches, tags and remote branches, less `excluded`; those containing a commit, when
    `contains` is given."""
    args = ["for-each-ref", "--format=%(refname)"] + (["--contains", contains] if contains else [])
    proc = run_git([*args, *USER_REF_PREFIXES], cwd, check=False)
    skip = set(excluded)
    return [r for r in proc.stdout.decode("utf-8", "replace").split("\n") if r and r not in skip]


def tree_reachable(cwd: Cwd, tree: str, commit: str | None, excluded: Iterable[str] = ()) -> bool:
    """Whether `tree` is the root tree of a commit in the history of the user's own refs
    (`user_refs` less `excluded`): `commit` (when its tree is `tree`) contained in one of them,
    or else any commit of their history."""
    if commit is not None and commit_sha(cwd, commit) == commit and \
            tree_shas(cwd, commit, [""]).get("") == tree and user_refs(cwd, excluded, commit):
        return True
    refs = user_refs(cwd, excluded)
    if not refs:
        return False
    proc = run_git(["log", "--format=%T", *refs, "--"], cwd, check=False)
    return tree in proc.stdout.decode("utf-8", "replace").split()


def diff_zero_context(cwd: Cwd, base: str, head: str | None = None) -> bytes:
    """`git diff -U0 -M <base> [<head>]` (without head: against the working tree): each hunk's
    added lines, renames followed, `a/`/`b/` prefixes whatever the user's diff settings."""
    args = ["--no-optional-locks", "diff", "-U0", "-M", "--no-color", "--no-ext-diff",
            "--no-textconv", "--src-prefix=a/", "--dst-prefix=b/", "--no-relative", base]
    return run_git([*args, *([head] if head else []), "--"], cwd).stdout


def remote_has_ref(cwd: Cwd, remote: str, ref: str) -> bool | None:
    """Whether `remote` (a name, URL or path) has `ref`; None when the remote cannot be asked."""
    proc = run_git(["ls-remote", "--exit-code", remote, ref], cwd, check=False)
    if proc.returncode == 0:
        return any(line.endswith(f"\t{ref}") for line in proc.stdout.decode().splitlines())
    return False if proc.returncode == 2 else None


def file_at(cwd: Cwd, rev: str, path: str) -> bytes | None:
    """The bytes of `path` in the tree of `rev`, or None when there is no such file."""
    proc = run_git(["cat-file", "blob", f"{rev}:{path}"], cwd, check=False)
    return proc.stdout if proc.returncode == 0 else None
