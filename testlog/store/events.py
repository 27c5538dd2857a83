"""Every commit to the log branch goes through here: its files, one chronicle event, the index."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gitstore import Append, Change, GitStoreError, LogEntry, LogStore, Step, restart

from testlog.core import layout, schema
from testlog.core.canonical import canonical_json, sha256_hex
from testlog.core.chronicle import RETENTION_EPOCH, event_line, make_event, parse_chronicle
from testlog.core.layout import TRAILER_EVENT, TRAILER_EVENT_SHA256, TRAILER_SCHEMA

INDEX_EVENTS = 20


def signature_label(store: LogStore) -> str:
    return store.signer.label if store.signer else "unsigned"


def commit_event(store: LogStore, files: Mapping[str, Change], *, event: str, artifact: str,
                 verdict: str, summary: str, trailers: Mapping[str, str] | None = None) -> str:
    """One commit holding `files`, its chronicle event and the regenerated index.

    `artifact` must be a path in `files` with bytes: the event carries its SHA-256.
    """
    record = make_event(event, artifact, artifact_bytes(files, artifact), verdict,
                        signature_label(store))
    changes = event_changes(files, record, previous_events(store))
    return store.write(changes, summary, event_trailers(record, trailers))


def artifact_bytes(files: Mapping[str, Change], artifact: str) -> bytes:
    content = files.get(artifact)
    if not isinstance(content, bytes):
        raise ValueError(f"artifact {artifact!r} must be written as bytes in the same commit")
    return content


def event_changes(files: Mapping[str, Change], record: dict, earlier: list[dict],
                  restart: bool = False) -> dict[str, Change]:
    """`files` plus the chronicle line (appended, or the first line of a restarted branch)."""
    changes = dict(files)
    line = event_line(record)
    changes[layout.CHRONICLE] = line if restart else Append(line)
    changes[layout.INDEX] = render_index(earlier + [record]).encode()
    return changes


def event_trailers(record: dict, trailers: Mapping[str, str] | None) -> dict[str, str]:
    """The event's trailers; Testlog-Event-SHA256 binds the chronicle line to the signed commit."""
    return {TRAILER_EVENT: record["event"], **(trailers or {}), TRAILER_SCHEMA: str(schema.COMMIT),
            TRAILER_EVENT_SHA256: sha256_hex(canonical_json(record))}


@dataclass(frozen=True)
class EventCommit:
    """One commit of a restarted branch: its files, its complete chronicle event, its message."""
    files: Mapping[str, Change]
    record: dict
    summary: str
    trailers: Mapping[str, str] | None = None
    author: str | None = None
    author_time: int | None = None


def restart_branch(store: LogStore, expected_tip: str, base_tree: str,
                   commits: list[EventCommit]) -> list[str]:
    """Restart the branch at a new root on `base_tree` (its chronicle begins again with the
    first event), with `commits` on top, swapped in at once; their shas."""
    steps: list[Step] = []
    earlier: list[dict[str, Any]] = []
    for index, item in enumerate(commits):
        changes = event_changes(item.files, item.record, earlier, restart=index == 0)
        steps.append(Step(changes, item.summary, event_trailers(item.record, item.trailers),
                          item.author, item.author_time))
        earlier.append(item.record)
    return restart(store, expected_tip, base_tree, steps)


def previous_events(store: LogStore) -> list[dict]:
    """The latest events the index shows (only the chronicle's tail is parsed: it grows)."""
    if store.tip is None:
        return []
    try:
        data = store.read(layout.CHRONICLE)
    except GitStoreError:
        return []
    return parse_chronicle(b"\n".join(data.splitlines()[-INDEX_EVENTS:]))


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


def refuse_rebuilding_epoch(entry: LogEntry) -> str | None:
    """Sync's guard: a retention epoch restarts the branch; rebuilding it on the remote's old
    history would bury the epoch under the history it replaced."""
    if entry.trailers.get(TRAILER_EVENT) != RETENTION_EPOCH:
        return None
    return (f"the local log branch restarts at retention epoch {entry.sha[:10]} (`git testlog "
            "prune`) but the remote still has the history before it: publish the epoch "
            "deliberately (`git push --force-with-lease=<branch>:<remote tip> <remote> "
            "<branch>`), or prune where the branch is pushed from")
