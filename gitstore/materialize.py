"""Checking a recorded source tree out into a directory of its own, never the user's tree.

A private index (GIT_INDEX_FILE in a temp dir) + `git read-tree` + `git checkout-index`: exact
modes and symlinks, eol/smudge filters applied, and the user's index, HEAD and stash untouched.
"""
from __future__ import annotations

import os
import tempfile

from gitstore.errors import GitStoreError
from gitstore.gitcmd import is_shallow, run_git, shallow_hint


def object_exists(common_dir: str, spec: str) -> bool:
    return run_git(["cat-file", "-e", spec], common_dir, check=False).returncode == 0


def source_tree(common_dir: str, commit: str | None, tree: str | None) -> tuple[str, str]:
    """(tree sha, "commit"|"tree") for a recorded source: the commit, else its recorded tree."""
    if commit and object_exists(common_dir, f"{commit}^{{commit}}"):
        found = run_git(["rev-parse", f"{commit}^{{tree}}"], common_dir).stdout.decode().strip()
        return found, "commit"
    if tree and object_exists(common_dir, f"{tree}^{{tree}}"):
        return tree, "tree"
    if is_shallow(common_dir):
        raise GitStoreError(f"source commit {(commit or '?')[:12]} (tree {(tree or '?')[:12]}) is "
                            f"not in this clone (a shallow clone){shallow_hint(common_dir)}")
    raise GitStoreError(f"source commit {(commit or '?')[:12]} (tree {(tree or '?')[:12]}) is not "
                        f"in this clone: fetch it with `git fetch origin {commit or tree}`")


def checkout_tree(common_dir: str, tree: str, dest: str) -> None:
    """Write every file of `tree` under `dest` through a throwaway index."""
    os.makedirs(dest, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="gitstore-index-") as tmp:
        env = {"GIT_INDEX_FILE": os.path.join(tmp, "index")}
        base = ["--git-dir", common_dir, "--work-tree", dest]
        run_git([*base, "read-tree", tree], dest, env=env)
        run_git([*base, "checkout-index", "--all", "--force"], dest, env=env)


def apply_patch(dest: str, patch: bytes) -> None:
    """Apply a `git diff --binary` patch inside `dest` (a plain directory, not a repository)."""
    if not patch.strip():
        return
    proc = run_git(["apply", "--whitespace=nowarn", "-"], dest, input=patch, check=False)
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitStoreError(f"the recorded dirty diff does not apply: {last[-1] if last else '?'}")


def materialize(common_dir: str, commit: str | None, tree: str | None, dest: str,
                patch: bytes = b"") -> str:
    """Check the recorded source out into `dest`, apply its dirty diff; return "commit"|"tree"."""
    found, kind = source_tree(common_dir, commit, tree)
    checkout_tree(common_dir, found, dest)
    apply_patch(dest, patch)
    return kind
