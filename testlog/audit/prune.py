"""`git testlog prune`: rotation (old files leave the tip, history keeps them) and retention
(old history goes to a git bundle; the branch restarts at a signed epoch commit)."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from gitstore import (
    LogEntry,
    LogStore,
    ObjectInfo,
    changes_per_commit,
    commits_in_range,
    create_bundle,
    object_contents,
    object_info,
    split_author,
)

from testlog.audit.retention import epoch_record, retention_boundary, rotation_candidates
from testlog.core import branchjson, layout, schema
from testlog.core.canonical import sha256_hex
from testlog.core.chronicle import RETENTION_EPOCH, ROTATION, make_event
from testlog.core.layout import (
    TRAILER_ARCHIVE_SHA256,
    TRAILER_EVENT,
    TRAILER_EVENT_RECORD,
    TRAILER_EVENT_SHA256,
    TRAILER_PREVIOUS_EVENT,
    TRAILER_PREVIOUS_TIP,
    TRAILER_REBUILT_FROM,
    TRAILER_SCHEMA,
)
from testlog.core.timefmt import utc_text
from testlog.errors import TestlogError
from testlog.store.events import EventCommit, commit_event, restart_branch, signature_label

_OWN_TRAILERS = {TRAILER_EVENT, TRAILER_SCHEMA, TRAILER_EVENT_SHA256, TRAILER_EVENT_RECORD,
                 TRAILER_PREVIOUS_EVENT}
_BOOKKEEPING = {layout.CHRONICLE, layout.INDEX}


def pretty(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()


# -- rotation ---------------------------------------------------------------------------------

def rotation_plan(store: LogStore, as_of: datetime, rotate_days: int) -> list[str]:
    cutoff = as_of.date() - timedelta(days=rotate_days)
    return rotation_candidates(store.paths(), cutoff)


def rotate(store: LogStore, as_of: datetime, rotate_days: int, old: list[str]) -> str:
    """One commit that takes `old` off the tip tree; the record lists each file's blob."""
    tip = store.require_tip()
    infos = object_info(store.common_dir, [f"{tip}:{p}" for p in old])
    cutoff = as_of.date() - timedelta(days=rotate_days)
    record = {"schema_version": schema.ROTATION, "as_of": utc_text(as_of), "rotate_days": rotate_days,
              "cutoff": cutoff.isoformat(), "from_tip": tip,
              "removed": [{"path": p, "blob": i.sha if i else None} for p, i in zip(old, infos)]}
    path = layout.rotation_record_path(as_of.date())
    files: dict = {p: None for p in old}
    files[path] = pretty(record)
    return commit_event(store, files, event=ROTATION, artifact=path, verdict="ROTATED",
                        summary=f"{ROTATION} {len(old)} files dated before {cutoff}")


# -- retention --------------------------------------------------------------------------------

@dataclass(frozen=True)
class RetentionPlan:
    tip: str
    entries: list[LogEntry]        # the whole chain, oldest first
    boundary: int                  # entries[:boundary + 1] are older than the window
    lines: list[bytes]             # each commit's event as a chronicle line, oldest first
    cutoff: datetime

    @property
    def archived(self) -> int:
        return self.boundary + 1

    @property
    def rebuilt(self) -> list[LogEntry]:
        return self.entries[self.boundary + 1:]


def retention_plan(store: LogStore, as_of: datetime, retain_days: int) -> RetentionPlan | None:
    """None when no commit is older than the window (or only the current epoch is)."""
    tip = store.require_tip()
    entries = commits_in_range(store.common_dir, tip)
    cutoff = as_of - timedelta(days=retain_days)
    boundary = retention_boundary([split_author(e.author)[1] for e in entries],
                                  int(cutoff.timestamp()))
    only_the_epoch = boundary == 0 and entries[0].trailers.get(TRAILER_EVENT) == RETENTION_EPOCH
    if boundary is None or only_the_epoch:
        return None
    lines = event_lines(store, tip, entries)
    if len(lines) != len(entries) or any(e.parents and len(e.parents) != 1 for e in entries):
        raise TestlogError(f"{store.ref} does not have one chronicle event per commit on one "
                           "linear chain: run `git testlog verify` and repair it before pruning")
    return RetentionPlan(tip, entries, boundary, lines, cutoff)


def event_lines(store: LogStore, tip: str, entries: list[LogEntry]) -> list[bytes]:
    """Each commit's event as a chronicle line: its Testlog-Event-Record trailer, or (commits of
    the first format) the next line of the tip's chronicle.ndjson."""
    legacy = iter(store.read(layout.CHRONICLE, tip).splitlines(keepends=True)
                  if store.exists(layout.CHRONICLE, tip) else [])
    lines = []
    for entry in entries:
        raw = entry.trailers.get(TRAILER_EVENT_RECORD)
        line = raw.encode() + b"\n" if raw is not None else next(legacy, None)
        if line is None:
            break
        lines.append(line)
    return lines


def retain(store: LogStore, plan: RetentionPlan, archive_dir: str, as_of: datetime,
           retain_days: int) -> tuple[str, list[str]]:
    """Archive the whole chain to a bundle, then restart the branch: (bundle path, new shas)."""
    name = f"testlog-{as_of.strftime('%Y%m%d')}-{plan.tip[:12]}.bundle"
    path = os.path.join(archive_dir, name)
    try:
        digest = create_bundle(store.common_dir, path, store.ref, plan.tip)
    except OSError as exc:
        raise TestlogError(f"cannot write the archive {path}: {exc.strerror or exc}; the "
                           "branch was not changed") from None
    try:
        commits = [epoch_commit(store, plan, name, digest, as_of, retain_days)]
        commits += rebuilt_commits(store, plan)
        shas = restart_branch(store, plan.tip, plan.entries[plan.boundary].tree, commits)
    except BaseException:
        os.unlink(path)            # the branch was not changed: the archive would mislead
        raise
    return path, shas


def epoch_commit(store: LogStore, plan: RetentionPlan, bundle: str, digest: str,
                 as_of: datetime, retain_days: int) -> EventCommit:
    chronicle = b"".join(plan.lines)
    record = epoch_record(
        previous_tip=plan.tip, boundary=plan.entries[plan.boundary].sha, bundle=bundle,
        bundle_sha256=digest, archived_commits=plan.archived, rebuilt_commits=len(plan.rebuilt),
        retain_days=retain_days, cutoff=utc_text(plan.cutoff), as_of=utc_text(as_of),
        chronicle_lines_before=len(plan.lines), chronicle_sha256_before=sha256_hex(chronicle))
    path = layout.epoch_record_path(as_of.date())
    data = pretty(record)
    event = make_event(RETENTION_EPOCH, path, data, "ARCHIVED", signature_label(store))
    summary = (f"{RETENTION_EPOCH} {plan.archived} commits before {utc_text(plan.cutoff)} archived "
               f"to {bundle}")
    # The restarted chain carries its events in its commits: the first format's chronicle
    # file, from the base tree, leaves it (the epoch record names its lines and digest).
    return EventCommit({path: data, layout.CHRONICLE: None}, event, summary,
                       {TRAILER_PREVIOUS_TIP: plan.tip, TRAILER_ARCHIVE_SHA256: digest})


def rebuilt_commits(store: LogStore, plan: RetentionPlan) -> list[EventCommit]:
    """The commits inside the window, re-applied on the epoch: same files, same event (signed
    anew, so its `signature` names the new signer), original author and author date."""
    changes = changes_per_commit(store.common_dir, [e.sha for e in plan.rebuilt])
    names = [f"{sha}:{p}" for sha, items in changes.items() for s, p in items
             if s != "D" and p not in _BOOKKEEPING]
    infos = dict(zip(names, object_info(store.common_dir, names)))
    blobs = object_contents(store.common_dir, sorted({i.sha for i in infos.values() if i}))
    out = []
    for index, entry in enumerate(plan.rebuilt, plan.boundary + 1):
        files = {p: (None if s == "D" else blob_of(blobs, infos[f"{entry.sha}:{p}"], p))
                 for s, p in changes[entry.sha] if p not in _BOOKKEEPING}
        out.append(rebuilt_commit(store, entry, plan.lines[index], files))
    return out


def blob_of(blobs: dict[str, bytes], info: ObjectInfo | None, path: str) -> bytes:
    if info is None or info.sha not in blobs:
        raise TestlogError(f"{path} vanished from the object store while pruning: run "
                           "`git fsck`, then prune again")
    return blobs[info.sha]


def rebuilt_commit(store: LogStore, entry: LogEntry, line: bytes, files: dict) -> EventCommit:
    try:
        event = branchjson.loads(line)
    except ValueError:
        event = None
    claimed = entry.trailers.get(TRAILER_EVENT_SHA256)
    if not isinstance(event, dict) or event.get("event") != entry.trailers.get(
            TRAILER_EVENT, event.get("event")) or (
            claimed is not None and claimed != sha256_hex(line.rstrip(b"\n"))):
        raise TestlogError(f"commit {entry.sha[:12]} does not match its chronicle event: run "
                           "`git testlog verify` and repair the branch before pruning")
    event["signature"] = signature_label(store)
    trailers = {k: v for k, v in entry.trailers.items() if k not in _OWN_TRAILERS}
    trailers[TRAILER_REBUILT_FROM] = entry.sha
    author, author_time = split_author(entry.author)
    return EventCommit(files, event, entry.summary, trailers, author, author_time)
