"""Every commit to the log branch goes through here: its files and its chronicle event."""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gitstore import Change, GitStoreError, LogEntry, LogStore, Step, restart

from testlog.core import branchjson, layout, schema
from testlog.core.canonical import canonical_json
from testlog.core.chronicle import make_event, parse_chronicle
from testlog.core.layout import (
    TRAILER_EVENT,
    TRAILER_EVENT_RECORD,
    TRAILER_PREVIOUS_EVENT,
    TRAILER_SCHEMA,
)
from testlog.errors import TestlogError


def signature_label(store: LogStore) -> str:
    return store.signer.label if store.signer else "unsigned"


def commit_event(store: LogStore, files: Mapping[str, Change], *, event: str, artifact: str,
                 verdict: str, summary: str, trailers: Mapping[str, str] | None = None,
                 check_parent: Callable[[str | None], None] | None = None) -> str:
    """One commit holding `files` and its chronicle event, which the commit message carries.

    `artifact` must be a path in `files` with bytes: the event carries its SHA-256. Nothing
    grows with the history: no file is rewritten whole by every commit. `check_parent(parent)`
    may refuse the commit (by raising) on the commit it is built on: it is called again
    whenever another writer moved the branch first and the commit is built anew.
    """
    record = make_event(event, artifact, artifact_bytes(files, artifact), verdict,
                        signature_label(store))
    changes = dict(files)
    if store.tip is None or store.blob_id(layout.INDEX) != STATIC_INDEX_ID:
        changes[layout.INDEX] = STATIC_INDEX
    if store.tip is not None and layout.TIMING_SUMMARY not in changes \
            and store.blob_id(layout.TIMING_SUMMARY) is not None:
        # The first format's timing summary is no longer kept up to date: left at the tip it
        # would carry on (through rotation too) the names of runs before redaction, secrets
        # among them. History keeps it.
        changes[layout.TIMING_SUMMARY] = None
    return store.write(changes, summary, event_trailers(record, trailers),
                       parent_trailers=lambda parent: checked_link(store, parent, check_parent))


def checked_link(store: LogStore, parent: str | None,
                 check: Callable[[str | None], None] | None) -> dict[str, str]:
    if check is not None:
        check(parent)
    return previous_event_link(store, parent)


def previous_event_link(store: LogStore, parent: str | None) -> dict[str, str]:
    """The previous-event trailer: the SHA-256 of the parent commit's event (its canonical JSON).
    The chain of events is then hash-linked: a commit dropped from the middle, and the chain
    rebuilt on top, breaks the link of the commit that followed it."""
    if parent is None:
        return {}
    event = event_of(store, store.entry(parent))
    return {TRAILER_PREVIOUS_EVENT: event_digest(event)} if event is not None else {}


def event_digest(event: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(event)).hexdigest()


def artifact_bytes(files: Mapping[str, Change], artifact: str) -> bytes:
    content = files.get(artifact)
    if not isinstance(content, bytes):
        raise ValueError(f"artifact {artifact!r} must be written as bytes in the same commit")
    return content


def event_trailers(record: dict[str, Any], trailers: Mapping[str, str] | None) -> dict[str, str]:
    """The event's trailers: its name first, the caller's, the commit format, the event itself
    (one canonical JSON line: the chronicle is the commits' Testlog-Event-Record trailers)."""
    return {TRAILER_EVENT: record["event"], **(trailers or {}), TRAILER_SCHEMA: str(schema.COMMIT),
            TRAILER_EVENT_RECORD: canonical_json(record).decode()}


def event_of(store: LogStore, entry: LogEntry) -> dict[str, Any] | None:
    """The chronicle event a commit recorded: its Testlog-Event-Record trailer, or (a commit of
    the first format) the line it appended to chronicle.ndjson; None when it has neither."""
    raw = entry.trailers.get(TRAILER_EVENT_RECORD)
    if raw is not None:
        try:
            event = branchjson.loads(raw)          # anyone may have written it: with limits
        except ValueError:
            return None
        return event if isinstance(event, dict) else None
    try:
        events = parse_chronicle(store.read(layout.CHRONICLE, entry.sha))
    except (GitStoreError, TestlogError):
        return None
    return events[-1] if events else None


@dataclass(frozen=True)
class EventCommit:
    """One commit of a restarted branch: its files, its complete chronicle event, its message."""
    files: Mapping[str, Change]
    record: dict[str, Any]
    summary: str
    trailers: Mapping[str, str] | None = None
    author: str | None = None
    author_time: int | None = None


def restart_branch(store: LogStore, expected_tip: str, base_tree: str,
                   commits: list[EventCommit]) -> list[str]:
    """Restart the branch at a new root on `base_tree` with `commits` on top (each carrying its
    event in its message), swapped in at once; their shas."""
    steps: list[Step] = []
    previous: dict[str, Any] | None = None
    for item in commits:
        link: dict[str, str] = {TRAILER_PREVIOUS_EVENT: event_digest(previous)} if previous else {}
        steps.append(Step({**item.files, layout.INDEX: STATIC_INDEX}, item.summary,
                          event_trailers(item.record, {**(item.trailers or {}), **link}),
                          item.author, item.author_time))
        previous = item.record
    return restart(store, expected_tip, base_tree, steps)


STATIC_INDEX = b"""# Test log

This orphan history is written by git-testlog: every commit is one recorded event (a test run,
a coverage or benchmark measurement, a replay, a seal), signed when a key is set. Each writer
(a clone, a CI machine or job) appends to its own chain; `git testlog log` shows them all.

## Browse it with plain git

- The events, newest first: `git log --format='%(trailers:key=Testlog-Event-Record,valueonly)' <chain>`
  (the chronicle: one JSON event per commit; commits of the first format appended it to
  `chronicle.ndjson` instead).
- A run's files: `git show <commit>:runs/`, then `git show <commit>:runs/<file>`.
- The chains: `git for-each-ref refs/testlog/chains/` (other writers), and your own branch.

## How to verify

- Signatures: `git log --show-signature <chain>` or `git verify-commit <sha>`.
- Everything (signatures by trusted keys, events, artifacts, records, seals):
  `git testlog verify --trusted-keys KEYS.asc`.
- A sealed bundle without git: `sha256sum -c <manifest>` and `gpg --verify <zip>.sig <zip>`.
- Re-execute a run: `git testlog replay <sha>`.
"""
STATIC_INDEX_ID = hashlib.sha1(b"blob %d\0" % len(STATIC_INDEX) + STATIC_INDEX).hexdigest()
