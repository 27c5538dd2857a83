"""Checking a recorded source tree out into a directory of its own, never the user's tree.

A private index (GIT_INDEX_FILE in a temp dir) + `git read-tree` + `git checkout-index`: exact
modes and symlinks, eol/smudge filters applied, and the user's index, HEAD and stash untouched.
"""
from __future__ import annotations

import os
import re
import tempfile

from gitstore.errors import GitStoreError
from gitstore.gitcmd import is_shallow, run_git, shallow_hint
from gitstore.paths import name_problem

# Header lines that make a path a symlink or a submodule (content lines start with +, - or a
# space, and base85 lines of binary patches hold no space: neither can look like these).
_LINK_MODE = re.compile(rb"^(?:new file mode|new mode) (?:120000|160000)$", re.M)


def object_exists(common_dir: str, spec: str) -> bool:
    return run_git(["cat-file", "-e", spec], common_dir, check=False).returncode == 0


def source_tree(common_dir: str, commit: str | None, tree: str | None) -> tuple[str, str]:
    """(tree sha, "commit"|"tree") for a recorded source: the commit, else its recorded tree."""
    for sha in (commit, tree):
        if sha is not None and not re.fullmatch(r"[0-9a-f]{40}", sha):
            raise GitStoreError(f"recorded source {sha[:50]!r} is not a sha (edited by hand?)")
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


def patch_paths(patch: bytes) -> list[bytes]:
    """Every path a `git diff` patch touches (both sides of a rename), as git apply reads it."""
    with tempfile.TemporaryDirectory(prefix="gitstore-patch-") as tmp:
        proc = run_git(["apply", "--numstat", "-z", "-"], tmp, input=patch, check=False)
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()
        raise GitStoreError(f"the recorded dirty diff cannot be read: {last[-1] if last else '?'}")
    paths, tokens = [], proc.stdout.split(b"\0")
    pos = 0
    while pos < len(tokens):
        fields = tokens[pos].split(b"\t", 2)
        if len(fields) == 3 and fields[2]:
            paths.append(fields[2])
        elif len(fields) == 3 and pos + 2 < len(tokens):       # a rename: old\0new\0
            paths += [tokens[pos + 1], tokens[pos + 2]]
            pos += 2
        pos += 1
    return paths


def patch_problem(patch: bytes) -> str | None:
    """Why a recorded dirty diff may not be applied in a checkout (a path that is absolute,
    climbs out with `..`, enters `.git`, or a symlink or submodule it creates); None if none."""
    if not patch.strip():
        return None
    if _LINK_MODE.search(patch):
        return "it creates a symlink or a submodule"
    for path in patch_paths(patch):
        if path.startswith(b"/"):
            return f"it writes the absolute path {path.decode('utf-8', 'replace')!r}"
        for name in path.split(b"/"):
            problem = name_problem(name)
            if problem is not None:
                return f"it writes {path.decode('utf-8', 'replace')!r} ({problem})"
    return None


def apply_patch(dest: str, patch: bytes) -> None:
    """Apply a `git diff --binary` patch inside `dest` (a plain directory, not a repository)."""
    if not patch.strip():
        return
    problem = patch_problem(patch)
    if problem is not None:
        raise GitStoreError(f"the recorded dirty diff is refused: {problem}")
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
