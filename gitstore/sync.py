"""Moving the log branch through ordinary git remotes, never by force.

A push rejected because another machine pushed first is resolved as git users would: fetch,
rebuild the local-only commits on the remote tip (appends re-appended, re-signed), push again.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from gitstore.errors import GitStoreError
from gitstore.gitcmd import is_ancestor, run_git
from gitstore.history import LogEntry
from gitstore.store import LogStore
from gitstore.treecheck import unsafe_trees

# Says why a local commit must not be rebuilt on another tip (None: it may be).
RebuildGuard = Callable[[LogEntry], "str | None"]

PUSH_ATTEMPTS = 5


@dataclass(frozen=True)
class SyncResult:
    status: str          # pushed | up-to-date | created | fast-forward | ahead | rebuilt
    tip: str
    rebuilt: int = 0     # local commits rebuilt on the remote tip
    written: int = 0     # disk bytes the rebuilt commits added (they count towards packing)


def is_named_remote(store: LogStore, remote: str) -> bool:
    return run_git(["remote", "get-url", remote], store.common_dir, check=False).returncode == 0


def tracking_ref(store: LogStore, remote: str) -> str:
    """refs/remotes/<remote>/<branch> for a named remote; a private ref for a URL or path."""
    short = store.ref.removeprefix("refs/heads/")
    if is_named_remote(store, remote):
        return f"refs/remotes/{remote}/{short}"
    return f"{store.conventions.fetched_ref_prefix}/{digest_of(remote)}/{short}"


def digest_of(remote: str) -> str:
    return hashlib.sha256(remote.encode()).hexdigest()[:16]


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


def fetch_remote_tip(store: LogStore, remote: str) -> str | None:
    """Fetch the remote's log branch into its tracking ref; None when the remote has none.
    The tracking ref moves only once the fetched history is found safe (check_incoming)."""
    track = tracking_ref(store, remote)
    incoming = f"{store.conventions.fetched_ref_prefix}/incoming/{digest_of(remote)}/" \
               f"{store.ref.removeprefix('refs/heads/')}"
    # --refmap= : git would otherwise move the remote-tracking ref along, unchecked.
    proc = run_git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", "--refmap=",
                    remote, f"+{store.ref}:{incoming}"], git_cwd(store), check=False)
    if proc.returncode != 0:
        if b"couldn't find remote ref" in proc.stderr:
            return None
        raise GitStoreError(f"cannot fetch {store.ref} from {remote}: {git_failure(proc.stderr)}")
    try:
        fetched = run_git(["rev-parse", incoming], store.common_dir).stdout.decode().strip()
        check_incoming(store, remote, fetched)
        run_git(["update-ref", track, fetched], store.common_dir)
    finally:
        run_git(["update-ref", "-d", incoming], store.common_dir, check=False)
    return fetched


def check_incoming(store: LogStore, remote: str, fetched: str) -> None:
    """Refuse fetched history whose trees hold what no log branch may (treecheck.py): every
    commit the local log branch does not have is read (a tracking ref may have been moved by a
    plain `git fetch`, unchecked)."""
    problems = unsafe_trees(store.common_dir, [fetched], [store.tip] if store.tip else [])
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise GitStoreError(f"refusing {store.ref} from {remote}: its history holds an unsafe "
                            f"entry, {problems[0]}{more}; nothing was updated")


def rebuild_on(store: LogStore, local: str, upstream: str,
               guard: RebuildGuard | None = None) -> SyncResult:
    """Rebuild the commits in upstream..local on top of upstream; move the ref (CAS)."""
    todo = run_git(["rev-list", "--reverse", "--first-parent", f"{upstream}..{local}"],
                   store.common_dir).stdout.decode().split()
    if guard is not None:
        for entry in store.history(rev=local, limit=len(todo)):
            reason = guard(entry)
            if reason:
                raise GitStoreError(reason)
    base, written = upstream, 0
    for sha in todo:
        commit_id, size = store.rebuild_commit(sha, base)
        base, written = commit_id.decode(), written + size
    if not store.swap_tip(local, base.encode()):
        raise GitStoreError(f"{store.ref} moved while rebuilding; run the command again")
    return SyncResult("rebuilt", base, len(todo), written)


def integrate(store: LogStore, remote_tip: str, guard: RebuildGuard | None = None) -> SyncResult:
    """Bring the local branch up to `remote_tip`; call with the store's lock held."""
    local = store.tip
    if local is None:
        if not store.swap_tip(None, remote_tip.encode()):
            raise GitStoreError(f"{store.ref} appeared while fetching; run the command again")
        return SyncResult("created", remote_tip)
    if local == remote_tip:
        return SyncResult("up-to-date", local)
    if is_ancestor(store.common_dir, local, remote_tip):
        if not store.swap_tip(local, remote_tip.encode()):
            raise GitStoreError(f"{store.ref} moved while fetching; run the command again")
        return SyncResult("fast-forward", remote_tip)
    if is_ancestor(store.common_dir, remote_tip, local):
        return SyncResult("ahead", local)
    return rebuild_on(store, local, remote_tip, guard)


def fetch(store: LogStore, remote: str = "origin", guard: RebuildGuard | None = None) -> SyncResult:
    """Fetch the remote's log branch and integrate it with the local one.

    `guard` may veto rebuilding a local-only commit on the remote tip (say why, or None)."""
    check_remote(store, remote)
    with store.locked():
        remote_tip = fetch_remote_tip(store, remote)
        if remote_tip is None:
            raise GitStoreError(f"remote {remote!r} has no log branch {store.ref}")
        result = integrate(store, remote_tip, guard)
        store.after_write(result.tip, result.written)
    return result


def _push_once(store: LogStore, remote: str, tip: str) -> bool:
    """True when pushed; False when the remote rejected it as not a fast-forward."""
    proc = run_git(["push", "--porcelain", remote, f"{tip}:{store.ref}"], git_cwd(store),
                   check=False)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode == 0:
        return True
    if any(line.startswith("!") for line in out.splitlines()):
        return False
    raise GitStoreError(f"cannot push {store.ref} to {remote}: {git_failure(proc.stderr)}")


def push(store: LogStore, remote: str = "origin", attempts: int = PUSH_ATTEMPTS,
         guard: RebuildGuard | None = None) -> SyncResult:
    """Push the log branch; on rejection fetch, rebuild local-only commits, retry. Never force."""
    check_remote(store, remote)
    rebuilt = 0
    with store.locked():
        for _ in range(attempts):
            tip = store.require_tip()
            if _push_once(store, remote, tip):
                run_git(["update-ref", tracking_ref(store, remote), tip], store.common_dir)
                return SyncResult("pushed", tip, rebuilt)
            remote_tip = fetch_remote_tip(store, remote)
            if remote_tip is not None:
                result = integrate(store, remote_tip, guard)
                rebuilt += result.rebuilt
                store.after_write(result.tip, result.written)
    raise GitStoreError(f"{remote} kept rejecting {store.ref} after {attempts} attempts "
                        f"(other machines are pushing); {store.conventions.push_again_hint}")
