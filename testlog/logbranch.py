"""Every commit to the log branch goes through here: its files, one chronicle event, the index."""
from __future__ import annotations

from collections.abc import Mapping

from gitstore import Append, GitStoreError, LogStore
from gitstore.changes import Change

from testlog import layout
from testlog.chronicle import event_line, make_event, parse_chronicle

SCHEMA_VERSION = "1"
INDEX_EVENTS = 20


def open_log(path: str = ".", branch: str = "refs/heads/testlog", sign_key: str | None = None,
             no_sign: bool = False) -> LogStore:
    return LogStore.open(path, ref=branch, sign_key=False if no_sign else sign_key)


def signature_label(store: LogStore) -> str:
    return f"gpg:{store.signer.fingerprint}" if store.signer else "unsigned"


def commit_event(store: LogStore, files: Mapping[str, Change], *, event: str, artifact: str,
                 verdict: str, summary: str, trailers: Mapping[str, str] | None = None) -> str:
    """One commit holding `files`, its chronicle event and the regenerated index.

    `artifact` must be a path in `files` with bytes: the event carries its SHA-256.
    """
    content = files.get(artifact)
    if not isinstance(content, bytes):
        raise ValueError(f"artifact {artifact!r} must be written as bytes in the same commit")
    record = make_event(event, artifact, content, verdict, signature_label(store))
    changes = dict(files)
    changes[layout.CHRONICLE] = Append(event_line(record))
    changes[layout.INDEX] = render_index(previous_events(store) + [record]).encode()
    all_trailers = {"Testlog-Event": event, **(trailers or {}), "Testlog-Schema": SCHEMA_VERSION}
    return store.write(changes, summary, all_trailers)


def previous_events(store: LogStore) -> list[dict]:
    if store.tip is None:
        return []
    try:
        return parse_chronicle(store.read(layout.CHRONICLE))
    except GitStoreError:
        return []


def render_index(events: list[dict]) -> str:
    """The branch's README.md: what this branch is, the latest events, how to verify it."""
    rows = "\n".join(
        f"| {e['timestamp']} | {e['event']} | `{e['artifact']}` | {e['verdict']} |"
        for e in reversed(events[-INDEX_EVENTS:]))
    return f"""# Test log

This orphan branch is written by git-testlog: every commit is one recorded event (a test run,
a coverage or benchmark measurement, a replay, a seal), signed with GPG when a key is set.
`chronicle.ndjson` lists the events in commit order; the commit chain is the order of record.

## Latest events

| timestamp (UTC) | event | artifact | verdict |
|---|---|---|---|
{rows}

## How to verify

- Signatures: `git log --show-signature <branch>` or `git verify-commit <sha>`.
- Everything (signatures by trusted keys, chronicle hashes, record digests, seals):
  `git testlog verify --trusted-keys KEYS.asc`.
- A sealed bundle without git: `sha256sum -c <manifest>` and `gpg --verify <zip>.sig <zip>`.
- Re-execute a run: `git testlog replay <sha>`.
"""
