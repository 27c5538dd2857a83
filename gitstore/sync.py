"""Moving the log branch through ordinary git remotes, never by force.

A push rejected because another machine pushed first is resolved as git users would: fetch,
rebuild the local-only commits on the remote tip (appends re-appended, re-signed), push again.
"""
from __future__ import annotations

from dataclasses import dataclass

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.store import LogStore

PUSH_ATTEMPTS = 5


@dataclass(frozen=True)
class SyncResult:
    status: str          # pushed | up-to-date | created | fast-forward | ahead | rebuilt
    tip: str
    rebuilt: int = 0     # local commits rebuilt on the remote tip
    written: int = 0     # disk bytes the rebuilt commits added (they count towards packing)


def tracking_ref(ref: str, remote: str) -> str:
    short = ref.removeprefix("refs/heads/")
    return f"refs/remotes/{remote}/{short}"


def check_remote(store: LogStore, remote: str) -> None:
    looks_like_url = "/" in remote or ":" in remote
    known = run_git(["remote", "get-url", remote], store.common_dir, check=False).returncode == 0
    if not (known or looks_like_url):
        raise GitStoreError(f"no remote named {remote!r} (add one with `git remote add {remote} URL`)")


def fetch_remote_tip(store: LogStore, remote: str) -> str | None:
    """Fetch the remote's log branch into its tracking ref; None when the remote has none."""
    track = tracking_ref(store.ref, remote)
    proc = run_git(["fetch", "--quiet", "--no-tags", "--no-write-fetch-head", remote,
                    f"+{store.ref}:{track}"], store.common_dir, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        if "couldn't find remote ref" in err:
            return None
        last = err.strip().splitlines()[-1] if err.strip() else f"exit {proc.returncode}"
        raise GitStoreError(f"cannot fetch {store.ref} from {remote}: {last}")
    return run_git(["rev-parse", track], store.common_dir).stdout.decode().strip()


def is_ancestor(store: LogStore, older: str, newer: str) -> bool:
    return run_git(["merge-base", "--is-ancestor", older, newer], store.common_dir,
                   check=False).returncode == 0


def rebuild_on(store: LogStore, local: str, upstream: str) -> SyncResult:
    """Rebuild the commits in upstream..local on top of upstream; move the ref (CAS)."""
    todo = run_git(["rev-list", "--reverse", "--first-parent", f"{upstream}..{local}"],
                   store.common_dir).stdout.decode().split()
    base, written = upstream, 0
    for sha in todo:
        commit_id, size = store.rebuild_commit(sha, base)
        base, written = commit_id.decode(), written + size
    if not store.swap_tip(local, base.encode()):
        raise GitStoreError(f"{store.ref} moved while rebuilding; run the command again")
    return SyncResult("rebuilt", base, len(todo), written)


def integrate(store: LogStore, remote_tip: str) -> SyncResult:
    """Bring the local branch up to `remote_tip`; call with the store's lock held."""
    local = store.tip
    if local is None:
        if not store.swap_tip(None, remote_tip.encode()):
            raise GitStoreError(f"{store.ref} appeared while fetching; run the command again")
        return SyncResult("created", remote_tip)
    if local == remote_tip:
        return SyncResult("up-to-date", local)
    if is_ancestor(store, local, remote_tip):
        if not store.swap_tip(local, remote_tip.encode()):
            raise GitStoreError(f"{store.ref} moved while fetching; run the command again")
        return SyncResult("fast-forward", remote_tip)
    if is_ancestor(store, remote_tip, local):
        return SyncResult("ahead", local)
    return rebuild_on(store, local, remote_tip)


def fetch(store: LogStore, remote: str = "origin") -> SyncResult:
    """Fetch the remote's log branch and integrate it with the local one."""
    check_remote(store, remote)
    with store.locked():
        remote_tip = fetch_remote_tip(store, remote)
        if remote_tip is None:
            raise GitStoreError(f"remote {remote!r} has no log branch {store.ref}")
        result = integrate(store, remote_tip)
        store.after_write(result.tip, result.written)
    return result


def _push_once(store: LogStore, remote: str, tip: str) -> bool:
    """True when pushed; False when the remote rejected it as not a fast-forward."""
    proc = run_git(["push", "--porcelain", remote, f"{tip}:{store.ref}"], store.common_dir,
                   check=False)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode == 0:
        return True
    if any(line.startswith("!") for line in out.splitlines()):
        return False
    err = proc.stderr.decode(errors="replace").strip().splitlines()
    raise GitStoreError(f"cannot push {store.ref} to {remote}: {err[-1] if err else out.strip()}")


def push(store: LogStore, remote: str = "origin", attempts: int = PUSH_ATTEMPTS) -> SyncResult:
    """Push the log branch; on rejection fetch, rebuild local-only commits, retry. Never force."""
    check_remote(store, remote)
    rebuilt = 0
    with store.locked():
        for _ in range(attempts):
            tip = store.require_tip()
            if _push_once(store, remote, tip):
                run_git(["update-ref", tracking_ref(store.ref, remote), tip], store.common_dir)
                return SyncResult("pushed", tip, rebuilt)
            remote_tip = fetch_remote_tip(store, remote)
            if remote_tip is not None:
                result = integrate(store, remote_tip)
                rebuilt += result.rebuilt
                store.after_write(result.tip, result.written)
    raise GitStoreError(f"{remote} kept rejecting {store.ref} after {attempts} attempts "
                        "(other machines are pushing); run `git testlog push` again")
