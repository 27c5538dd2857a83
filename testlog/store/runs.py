"""Recorded runs on the log branch: committing one (its files, the updated timing summary,
one chronicle event), and reading them back (for log, show, replay and audit)."""
from __future__ import annotations

import json
import os
import re
from typing import Any

from gitstore import GitStoreError, LogEntry, LogStore

from testlog.core import layout, schema, timing_summary
from testlog.core.canonical import dumps_normal, record_signature
from testlog.core.chronicle import TEST_SUITE_EXECUTED, parse_chronicle
from testlog.core.layout import (
    TRAILER_EVENT,
    TRAILER_SELECTION,
    TRAILER_SOURCE_COMMIT,
    TRAILER_SOURCE_TREE,
    TRAILER_SUITE,
    TRAILER_VERDICT,
)
from testlog.core.runfiles import RunBundle
from testlog.core.schema import check_version
from testlog.errors import TestlogError
from testlog.store.events import commit_event

# -- committing ----------------------------------------------------------------------------

def run_durations(bundle: RunBundle) -> list[tuple[str, float]]:
    if bundle.durations is not None:
        return bundle.durations
    data = bundle.files.get(bundle.timing_path)
    tests = json.loads(data)["tests"] if data else []
    return [(t["test_name"], t["duration_ms"]) for t in tests]


def updated_timing_summary(previous: bytes | dict[str, Any] | None, bundle: RunBundle) -> bytes:
    """The timing summary with this run's samples added to `previous` (stored bytes, or
    already parsed by `stored_timing_summary`)."""
    parsed = previous if isinstance(previous, dict) else timing_summary.parse_summary(previous)
    summary = timing_summary.updated_summary(parsed, run_durations(bundle))
    return dumps_normal(summary)     # every float in it is already rounded


def _stored_timing_summary(store: LogStore) -> bytes | None:
    if store.tip is None:
        return None
    try:
        return store.read(layout.TIMING_SUMMARY)
    except GitStoreError:
        return None


def stored_timing_summary(store: LogStore) -> tuple[str | None, dict[str, Any]]:
    """(the branch tip, its timing summary parsed): read ahead while the tests run."""
    tip = store.tip
    return tip, timing_summary.parse_summary(_stored_timing_summary(store))


def commit_run(store: LogStore, bundle: RunBundle,
               read_ahead: tuple[str | None, dict[str, Any]] | None = None) -> str:
    """One commit on the log branch holding the run; returns its sha. `read_ahead`: what
    `stored_timing_summary` returned earlier, used while the tip has not moved since."""
    files = dict(bundle.files)
    previous: bytes | dict[str, Any] | None
    if read_ahead is not None and read_ahead[0] == store.tip:
        previous = read_ahead[1]
    else:
        previous = _stored_timing_summary(store)
    files[layout.TIMING_SUMMARY] = updated_timing_summary(previous, bundle)
    return commit_event(store, files, event=TEST_SUITE_EXECUTED, artifact=bundle.artifact,
                        verdict=bundle.verdict, summary=bundle.summary, trailers=bundle.trailers)


def committed_already(store: LogStore, bundle: RunBundle, since_s: int,
                      limit: int = 50) -> str | None:
    """The commit that added this very run to the branch (its run file, byte for byte: it
    holds every test's timestamps, so no other session writes the same bytes), looking back
    from the tip over the commits made since `since_s` (the session's start, in epoch
    seconds); None when there is none. Later commits of other runs may sit on top of it."""
    if store.tip is None:
        return None
    data, found = bundle.files[bundle.artifact], None
    for entry in store.history(limit=limit):
        if entry.timestamp < since_s:
            break
        try:
            holds = store.read(bundle.artifact, entry.sha) == data
        except GitStoreError:
            holds = False
        if holds:
            found = entry.sha
        elif found is not None:
            break                 # the commit before it did not hold it: found added it
    return found


def run_dir_holds(directory: str, bundle: RunBundle) -> bool:
    """Whether `directory` already holds every file of the run, byte for byte."""
    for path, data in bundle.files.items():
        target = os.path.join(directory, *path.split("/"))
        try:
            with open(target, "rb") as handle:
                if data is None or handle.read() != data:
                    return False
        except OSError:
            if data is not None:
                return False
    return True


def write_run_dir(directory: str, bundle: RunBundle) -> list[str]:
    """--testlog-out: the same files under `directory`, timing summary carried on from it."""
    summary_path = os.path.join(directory, layout.TIMING_SUMMARY)
    previous = open(summary_path, "rb").read() if os.path.exists(summary_path) else None
    files = {**bundle.files, layout.TIMING_SUMMARY: updated_timing_summary(previous, bundle)}
    return write_files(directory, files)


def write_files(directory: str, files: dict[str, bytes | None]) -> list[str]:
    """Branch paths written under `directory` as files (None deletes); the paths written."""
    written = []
    for path, data in sorted(files.items()):
        target = os.path.join(directory, *path.split("/"))
        if data is None:
            if os.path.exists(target):
                os.unlink(target)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        written.append(path)
    return written


# -- reading --------------------------------------------------------------------------------

_SUMMARY = re.compile(rf"^{TEST_SUITE_EXECUTED} (?P<suite>\S+) (?P<verdict>PASS|FAIL|ERROR|INTERRUPTED) "
                      r"(?P<passed>\d+) passed (?P<failed>\d+) failed( (?P<not_run>\d+) not run)?$")


def _trailer_sha(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value


def run_info(entry: LogEntry) -> dict[str, Any] | None:
    """Suite, verdict, counts and source of a run commit, from its message alone; else None."""
    if entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
        return None
    match = _SUMMARY.match(entry.summary)
    return {"suite": entry.trailers.get(TRAILER_SUITE) or (match and match.group("suite")),
            "verdict": entry.trailers.get(TRAILER_VERDICT) or (match and match.group("verdict")),
            "passed": int(match.group("passed")) if match else None,
            "failed": int(match.group("failed")) if match else None,
            "not_run": int(match.group("not_run") or 0) if match else None,
            "selection": entry.trailers.get(TRAILER_SELECTION) or None,
            "source_commit": _trailer_sha(entry.trailers.get(TRAILER_SOURCE_COMMIT)),
            "source_tree": _trailer_sha(entry.trailers.get(TRAILER_SOURCE_TREE))}


def commit_event_record(store: LogStore, sha: str) -> dict[str, Any]:
    """The chronicle event the commit appended (the last line of chronicle.ndjson there)."""
    try:
        events = parse_chronicle(store.read(layout.CHRONICLE, sha))
    except GitStoreError:
        events = []
    if not events:
        raise TestlogError(f"{sha[:10]} has no chronicle event (not written by git-testlog?)")
    return events[-1]


def run_entry(store: LogStore, rev: str | None) -> tuple[LogEntry, str]:
    """(the commit, its run.json path) of a run; a clear error for any other commit."""
    entry = store.history(rev=rev, limit=1)[0]
    event = commit_event_record(store, entry.sha)
    if event.get("event") != TEST_SUITE_EXECUTED or entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
        raise TestlogError(f"{rev or entry.sha[:10]} is not a test run (it records "
                           f"{event.get('event', 'something else')}); see `git testlog log --runs`")
    return entry, event["artifact"]


def read_json(store: LogStore, path: str, sha: str) -> dict[str, Any]:
    """A JSON file of a run; refuses a newer schema and a hand-edited file."""
    try:
        data = json.loads(store.read(path, sha))
    except ValueError:
        raise TestlogError(f"{path} at {sha[:10]} is not valid JSON (edited by hand?)") from None
    if isinstance(data, dict):
        check_version(data.get("schema_version"), schema.RUN, f"{path} at {sha[:10]}", missing=0)
    return data


def read_run(store: LogStore, rev: str | None) -> tuple[LogEntry, dict[str, Any]]:
    """(the commit, the parsed run.json: {"schema_version", "run", "records"}) of a run."""
    entry, artifact = run_entry(store, rev)
    where = f"{artifact} at {entry.sha[:10]}"
    return entry, check_run_data(read_json(store, artifact, entry.sha), where)


def check_run_data(data: Any, where: str) -> dict[str, Any]:
    """`data` if it is a run as the recorder wrote it (shape and every record's signature)."""
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict) \
            or not isinstance(records, list) \
            or not all(isinstance(r, dict) and isinstance(r.get("test_name"), str) for r in records):
        raise TestlogError(f"{where} is not a recorded run (no run block or records)")
    for record in records:
        if record.get("signature") != record_signature(record):
            raise TestlogError(f"record {record['test_name']!r} in {where} does not match its "
                               "signature (edited by hand?); `git testlog verify` checks the log")
    return data


def run_summary(store: LogStore, sha: str, artifact: str) -> tuple[str, dict[str, Any]]:
    """(summary.md text, summary.json) of the run whose run.json is `artifact`."""
    md = store.read(layout.sibling_path(artifact, "summary", "md"), sha).decode("utf-8")
    return md, read_json(store, layout.sibling_path(artifact, "summary", "json"), sha)
