"""Archiving history as a git bundle: one file that `git clone`/`git fetch` can read back."""
from __future__ import annotations

import hashlib
import os

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def bundle_heads(cwd: str, path: str) -> dict[str, str]:
    """{ref: sha} recorded in a bundle file."""
    out = run_git(["bundle", "list-heads", path], cwd).stdout.decode()
    heads = {}
    for line in out.splitlines():
        sha, _, ref = line.partition(" ")
        heads[ref] = sha
    return heads


def create_bundle(cwd: str, path: str, ref: str, expected_tip: str) -> str:
    """Write the whole history of `ref` to `path` (refused if `ref` is not at `expected_tip`).

    Returns the file's SHA-256. An existing file at `path` is never overwritten.
    """
    if os.path.exists(path):
        raise GitStoreError(f"archive {path} already exists (move it away, or pick another "
                            "archive directory)")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    partial = f"{path}.partial"
    try:
        run_git(["bundle", "create", "--quiet", partial, ref], cwd)
        if bundle_heads(cwd, partial).get(ref) != expected_tip:
            raise GitStoreError(f"{ref} moved while it was being archived; nothing was changed "
                                "(run the command again)")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return file_sha256(path)


def bundle_is_complete(cwd: str, path: str) -> bool:
    """`git bundle verify`: the bundle is readable and needs no commit it does not hold."""
    return run_git(["bundle", "verify", "--quiet", path], cwd, check=False).returncode == 0
