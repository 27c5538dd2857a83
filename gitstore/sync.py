"""Moving chains through ordinary git remotes, never by force.

Each writer appends only to its own chain, so a push only ever fast-forwards that writer's
ref on the remote: it never retries, never rebuilds and never re-signs anybody's commit. A
rejected push means another clone writes under the same name, which only its owner can sort
out. Fetching brings a remote's chains into a private namespace first: the caller checks them
and decides which to accept (`update_ref`, a compare-and-swap).
"""
from __future__ import annotations

import hashlib
import os

from gitstore.errors import GitStoreError
from gitstore.gitcmd import refs_matching, run_git
from gitstore.store import LogStore
from gitstore.treecheck import unsafe_trees

PUSHED, UP_TO_DATE, REJECTED = "pushed", "up-to-date", "rejected"


def is_named_remote(store: LogStore, remote: str) -> bool:
    return run_git(["remote", "get-url", remote], store.common_dir, check=False).returncode == 0


def remote_key(store: LogStore, remote: str) -> str:
    """A ref-safe name for a remote: its own name, or a digest of a URL or path."""
    if is_named_remote(store, remote) and "/" not in remote:
        return remote
    return "url-" + hashlib.sha256(remote.encode()).hexdigest()[:16]


def check_remote(store: LogStore, remote: str) -> None:
    looks_like_url = "/" in remote or ":" in remote
    if not (looks_like_url or is_named_remote(store, remote)):
        raise GitStoreError(f"no remote named {remote!r} (add one with `git remote add {remote} URL`)")


def git_cwd(store: LogStore) -> str:
    """Where `git push`/`fetch` run: relative remote URLs are relative to the working tree."""
    return store.work_tree or store.common_dir


def git_failure(stderr: bytes) -> str:
    """git's own reason: its fatal/error lines, else its last line."""
    lines = [ln.strip() for ln in stderr.decode(errors="replace").splitlines() if ln.strip()]
    reasons = [ln for ln in lines if ln.startswith(("fatal:", "error:"))]
    return "; ".join(reasons) if reasons else (lines[-1] if lines else "no output")


def refs_under(store: LogStore, prefix: str) -> dict[str, str]:
    """{ref: sha} of the local refs under `prefix`."""
    return dict(refs_matching(store.common_dir, [prefix]))


def remote_refs(store: LogStore, remote: str, patterns: list[str]) -> dict[str, str]:
    """{ref: sha} of the remote's refs matching `patterns` (git ls-remote's patterns)."""
    check_remote(store, remote)
    proc = run_git(["ls-remote", "--refs", remote, *patterns], git_cwd(store), check=False)
    if proc.returncode != 0:
        raise GitStoreError(f"cannot list the refs of {remote}: {git_failure(proc.stderr)}")
    found = {}
    for line in proc.stdout.decode(errors="replace").splitlines():
        sha, _, ref = line.partition("\t")
        found[ref] = sha
    return found


def unsafe_incoming(store: LogStore, fetched: str, have: list[str]) -> str | None:
    """Why fetched history must not be taken (its trees hold what no log may: treecheck.py),
    or None. Every commit reachable from `fetched` and from none of `have` is read."""
    problems = unsafe_trees(store.common_dir, [fetched], have)
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"its history holds an unsafe entry, {problems[0]}{more}"


def fetch_refs(store: LogStore, remote: str, refspecs: list[str],
               shallow_since: str | None = None) -> None:
    """`git fetch` of `refspecs` (forced updates only into refs the caller owns). `--refmap=`:
    git moves no remote-tracking ref along unchecked. `shallow_since`: only the history after
    that date (git's `--shallow-since`; the commits at the cut are listed in <git dir>/shallow);
    SHALLOW_NOTHING_SINCE when the refs hold no commit that recent."""
    check_remote(store, remote)
    depth = [f"--shallow-since={shallow_since}"] if shallow_since else []
    proc = run_git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=", *depth,
                    remote, *refspecs], git_cwd(store), check=False)
    if proc.returncode != 0 and b"couldn't find remote ref" not in proc.stderr:
        if shallow_since and b"no commits selected for shallow requests" in proc.stderr:
            raise NothingSince(f"{remote} has no commit after {shallow_since} there")
        raise GitStoreError(f"cannot fetch from {remote}: {git_failure(proc.stderr)}")


class NothingSince(GitStoreError):
    """A shallow fetch found no commit after its date."""


def shallow_commits(common_dir: str) -> frozenset[str]:
    """Commits whose parents a shallow fetch left out (git's <git dir>/shallow)."""
    try:
        with open(os.path.join(common_dir, "shallow"), encoding="ascii") as handle:
            return frozenset(line.strip() for line in handle if line.strip())
    except (OSError, UnicodeDecodeError):
        return frozenset()


def update_ref(store: LogStore, ref: str, new: str, old: str | None) -> bool:
    """Move `ref` from `old` (None: it must not exist) to `new`; False when it was elsewhere."""
    expected = old if old is not None else "0" * len(new)
    return run_git(["update-ref", "-m", "fetch", ref, new, expected], store.common_dir,
                   check=False).returncode == 0


def delete_ref(store: LogStore, ref: str) -> None:
    run_git(["update-ref", "-d", ref], store.common_dir, check=False)


def push_sha(store: LogStore, remote: str, sha: str, remote_ref: str) -> str:
    """Push commit `sha` to `remote_ref` as a fast-forward: PUSHED, UP_TO_DATE or REJECTED
    (the remote's ref is not an ancestor of `sha`). Never forced."""
    check_remote(store, remote)
    proc = run_git(["push", "--porcelain", remote, f"{sha}:{remote_ref}"], git_cwd(store),
                   check=False)
    flags = [line[:1] for line in proc.stdout.decode(errors="replace").splitlines()
             if "\t" in line and line[:1] in "=!* +-"]
    if proc.returncode == 0:
        return UP_TO_DATE if flags == ["="] else PUSHED
    if "!" in flags:
        return REJECTED
    raise GitStoreError(f"cannot push to {remote}: {git_failure(proc.stderr)}")
