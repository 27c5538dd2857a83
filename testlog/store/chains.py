"""One chain per writer: what a clone, a CI machine or a job writes, and how the chains of a
team and its CI fleet meet through an ordinary remote.

- A clone writes to its own branch (`refs/heads/testlog` by default) and nowhere else.
- `push` sends that branch to the remote as `refs/testlog/chains/<writer>`, a fast-forward of
  that writer's chain only: no retry, no rebuild, nobody's commit re-signed. Not a branch, so
  the hosting service's CI is not started by it.
- `fetch` brings a remote's chains into `refs/testlog/incoming/<remote>/`, checks each, and
  keeps it as `refs/testlog/chains/<writer>` when it continues the copy we have (and, with
  trusted keys configured, when every new commit is signed by one of them); a chain that does
  not is kept apart under `refs/testlog/quarantine/<remote>/`, and said so. A remote's log
  branch of the first format (`refs/heads/testlog` there) is read as one more chain,
  `refs/testlog/legacy/<remote>`.
- Readers (`log`, `show`, `replay`, `compare`, `verify`, `seal`) see the union of the own
  branch and every chain kept.
"""
from __future__ import annotations

import fnmatch
import os
import re
import secrets
import socket
from dataclasses import dataclass

from gitstore import (
    GOOD,
    REJECTED,
    GitStoreError,
    LogStore,
    NothingSince,
    TrustedCerts,
    commits_in_range,
    delete_ref,
    fetch_refs,
    is_ancestor,
    push_sha,
    refs_under,
    remote_key,
    remote_refs,
    unsafe_incoming,
    update_ref,
    valid_ref_name,
)

from testlog.config import Setting
from testlog.core.chronicle import RETENTION_EPOCH
from testlog.core.layout import TRAILER_EVENT
from testlog.errors import TestlogError, UsageError
from testlog.store.state import (
    CHAINS_PREFIX,
    INCOMING_PREFIX,
    LEGACY_PREFIX,
    QUARANTINE_PREFIX,
    WRITER_ID,
    state_path,
)

_CLEAN = re.compile(r"[^a-z0-9._-]+")


def check_writer_id(value: str, source: str) -> str:
    """A writer id is one component of a ref name: letters, digits, '.', '_', '-'."""
    text = str(value).strip()
    if not text or "/" in text or not valid_ref_name(CHAINS_PREFIX + text) \
            or not re.fullmatch(r"[A-Za-z0-9._-]+", text):
        raise UsageError(f"invalid writer id {value!r} (from {source}): use letters, digits, "
                         "'.', '_' and '-' (it names this writer's chain, "
                         "refs/testlog/chains/<writer>)")
    return text


def default_writer_id() -> str:
    """`<user>-<host>-<4 hex>`: readable, and distinct for two clones of one user on one host."""
    user = _CLEAN.sub("-", (os.environ.get("USER") or os.environ.get("USERNAME") or "writer")
                      .lower()).strip("-.") or "writer"
    host = _CLEAN.sub("-", socket.gethostname().split(".")[0].lower()).strip("-.") or "host"
    return f"{user}-{host}-{secrets.token_hex(2)}"


def known_writer_id(common_dir: str, setting: Setting) -> str | None:
    """The configured writer id (config `writer` or TESTLOG_WRITER), else the one this clone
    made for itself earlier; None when it has none yet (nothing is written)."""
    if setting.value:
        return check_writer_id(str(setting.value), setting.source)
    path = state_path(common_dir, WRITER_ID)
    try:
        with open(path, encoding="utf-8") as handle:
            return check_writer_id(handle.read().strip(), path)
    except FileNotFoundError:
        return None


def writer_id(common_dir: str, setting: Setting) -> str:
    """The writer id (see known_writer_id); a clone without one makes its own, once, and keeps
    it in <git dir>/testlog/writer-id."""
    known = known_writer_id(common_dir, setting)
    if known is not None:
        return known
    path = state_path(common_dir, WRITER_ID)
    made = default_writer_id()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(made + "\n")
    return made


def writer_of(ref: str, own_ref: str, own_writer: str) -> str:
    """The writer a chain ref stands for."""
    if ref == own_ref:
        return own_writer
    if ref.startswith(CHAINS_PREFIX):
        return ref[len(CHAINS_PREFIX):]
    if ref.startswith(LEGACY_PREFIX):
        return f"legacy:{ref[len(LEGACY_PREFIX):]}"
    return ref


# -- push ------------------------------------------------------------------------------------

def push_chain(store: LogStore, remote: str, writer: str) -> tuple[str, str]:
    """Push the own branch as this writer's chain: (status, tip). A rejected push is an error
    naming the fix; nothing is ever forced."""
    tip = store.require_tip()
    status = push_sha(store, remote, tip, CHAINS_PREFIX + writer)
    if status != REJECTED:
        return status, tip
    if restarts_at_epoch(store):
        raise TestlogError(f"{remote} has chain {writer} before this clone's retention epoch "
                           "(`git testlog prune`): publish the restart deliberately (`git push "
                           f"--force-with-lease {remote} {tip}:{CHAINS_PREFIX}{writer}`)")
    raise TestlogError(f"{remote}'s chain {writer} is not part of this clone's log: another "
                       f"clone writes as {writer!r}. Give this clone its own writer id (`git "
                       "config testlog.writer NAME`, or TESTLOG_WRITER) and push again")


def restarts_at_epoch(store: LogStore) -> bool:
    roots = store.history(limit=None)[-1:] if store.tip else []
    return bool(roots) and roots[0].trailers.get(TRAILER_EVENT) == RETENTION_EPOCH


# -- fetch -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FetchedChain:
    writer: str
    status: str          # new | fast-forward | up-to-date | ahead | kept apart | refused | skipped
    tip: str
    reason: str = ""


def wanted_refs(store: LogStore, remote: str, pattern: str | None) -> dict[str, str]:
    """{remote ref: name under the incoming prefix}: every chain, or those whose writer id
    matches `pattern`, and (without a pattern) the remote's log branch of the first format."""
    wanted = pattern or "*"
    if not re.fullmatch(r"[A-Za-z0-9._*?-]+", wanted):
        raise UsageError(f"--writer {pattern!r}: give a writer id, or a pattern such as 'ci-*'")
    listed = remote_refs(store, remote, [f"{CHAINS_PREFIX}*", store.ref])
    out = {ref: "chains/" + ref[len(CHAINS_PREFIX):] for ref in listed
           if ref.startswith(CHAINS_PREFIX) and "/" not in ref[len(CHAINS_PREFIX):]
           and fnmatch.fnmatchcase(ref[len(CHAINS_PREFIX):], wanted)}
    if pattern is None and store.ref in listed:
        out[store.ref] = "legacy"
    return out


def local_ref(store: LogStore, name: str, key: str, own_writer: str) -> str:
    """The local ref an incoming chain (`chains/<writer>` or `legacy`) lands on."""
    if name == "legacy":
        return f"{LEGACY_PREFIX}{key}"
    writer = name[len("chains/"):]
    return store.ref if writer == own_writer else CHAINS_PREFIX + writer


def fetch_incoming(store: LogStore, remote: str, wanted: dict[str, str], incoming: str,
                   known: set[str], since: str | None) -> list[str]:
    """Fetch the wanted refs under `incoming`. With `since`, a chain not here yet comes with
    only its history after that date (one fetch each: git cuts each at its own date), and the
    chains here come whole (a shallow fetch would hide history we already have). Returns the
    names of chains skipped for having nothing that recent."""
    def spec(ref: str) -> str:
        return f"+{ref}:{incoming}{wanted[ref]}"
    whole = [ref for ref in wanted if since is None or wanted[ref] in known]
    if whole:
        fetch_refs(store, remote, [spec(ref) for ref in whole])
    skipped = []
    for ref in sorted(set(wanted) - set(whole)):
        try:
            fetch_refs(store, remote, [spec(ref)], shallow_since=since)
        except NothingSince:
            skipped.append(wanted[ref])
    return skipped


def fetch_chains(store: LogStore, remote: str, own_writer: str, pattern: str | None,
                 trusted: TrustedCerts | None, since: str | None = None) -> list[FetchedChain]:
    """Fetch the remote's chains (and its first-format log branch), keep those that check out;
    the incoming refs are removed afterwards. `since`: see `fetch_incoming`."""
    key = remote_key(store, remote)
    incoming = f"{INCOMING_PREFIX}{key}/"
    for ref in refs_under(store, incoming):
        delete_ref(store, ref)
    wanted = wanted_refs(store, remote, pattern)
    def here(ref: str) -> bool:
        return store.tip is not None if ref == store.ref else ref in refs_under(store, ref)
    known = {name for name in wanted.values() if here(local_ref(store, name, key, own_writer))}
    skipped = fetch_incoming(store, remote, wanted, incoming, known, since) if wanted else []
    results = [FetchedChain(name.removeprefix("chains/"), "skipped", "",
                            f"no commit after {since}") for name in skipped]
    try:
        for ref, tip in sorted(refs_under(store, incoming).items()):
            name = ref[len(incoming):]
            if name == "legacy":
                results.append(accept(store, tip, f"{LEGACY_PREFIX}{key}", f"legacy:{key}",
                                      trusted, key))
            else:
                writer = name[len("chains/"):]
                if writer == own_writer:
                    results.append(accept_own(store, tip, writer))
                else:
                    results.append(accept(store, tip, CHAINS_PREFIX + writer, writer, trusted,
                                          key))
    finally:
        for ref in refs_under(store, incoming):
            delete_ref(store, ref)
    return results


def untrusted_commits(store: LogStore, tip: str, have: str | None,
                      trusted: TrustedCerts | None) -> list[str]:
    """The new commits of a chain not signed by a trusted key (none when no key is trusted)."""
    if trusted is None:
        return []
    return [e.sha for e in commits_in_range(store.common_dir, tip, have)
            if not e.gpgsig or trusted.check(e.payload, e.gpgsig).status != GOOD]


def accept(store: LogStore, tip: str, ref: str, writer: str, trusted: TrustedCerts | None,
           key: str) -> FetchedChain:
    have = refs_under(store, ref).get(ref)
    if have == tip:
        return FetchedChain(writer, "up-to-date", tip)
    if have is not None and is_ancestor(store.common_dir, tip, have):
        return FetchedChain(writer, "ahead", have)
    if have is not None and not is_ancestor(store.common_dir, have, tip):
        return quarantine(store, tip, writer, key, "it does not continue the chain we have "
                          f"(rewritten?); ours stays at {have[:10]}")
    unsafe = unsafe_incoming(store, tip, [have] if have else [])
    if unsafe is not None:        # nothing to look at safely: not even kept apart
        return FetchedChain(writer, "refused", tip, f"{unsafe}; nothing was updated")
    unsigned = untrusted_commits(store, tip, have, trusted)
    if unsigned:
        return quarantine(store, tip, writer, key, f"{len(unsigned)} new commit(s) not signed "
                          f"by a trusted key (first {unsigned[0][:10]})")
    if not update_ref(store, ref, tip, have):
        raise TestlogError(f"{ref} moved while fetching; run the command again")
    return FetchedChain(writer, "new" if have is None else "fast-forward", tip)


def accept_own(store: LogStore, tip: str, writer: str) -> FetchedChain:
    """The remote's copy of this writer's own chain: a fresh clone takes it as its branch."""
    own = store.tip
    if own == tip or (own is not None and is_ancestor(store.common_dir, tip, own)):
        return FetchedChain(writer, "up-to-date" if own == tip else "ahead", own or tip)
    if own is not None and not is_ancestor(store.common_dir, own, tip):
        raise TestlogError(f"the remote's chain {writer} and this clone's {store.ref} have "
                           f"grown apart: another clone writes as {writer!r}. Give this clone "
                           "its own writer id (`git config testlog.writer NAME`)")
    unsafe = unsafe_incoming(store, tip, [own] if own else [])
    if unsafe is not None:
        raise TestlogError(f"refusing the remote's chain {writer} (this clone's own): {unsafe}; "
                           "nothing was updated")
    with store.locked():
        if not update_ref(store, store.ref, tip, own):
            raise TestlogError(f"{store.ref} moved while fetching; run the command again")
    return FetchedChain(writer, "fast-forward" if own else "new", tip)


def quarantine(store: LogStore, tip: str, writer: str, key: str, reason: str) -> FetchedChain:
    name = writer.replace(":", "-")
    try:
        update_ref(store, f"{QUARANTINE_PREFIX}{key}/{name}", tip,
                   refs_under(store, f"{QUARANTINE_PREFIX}{key}/{name}").get(
                       f"{QUARANTINE_PREFIX}{key}/{name}"))
    except GitStoreError:
        pass
    return FetchedChain(writer, "kept apart", tip,
                        f"{reason}; kept at {QUARANTINE_PREFIX}{key}/{name}")
