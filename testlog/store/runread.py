"""Reading recorded runs back from the log branch (for show, log, replay and audit)."""
from __future__ import annotations

import json
import re
from typing import Any

from gitstore import GitStoreError, LogEntry, LogStore

from testlog.core import layout
from testlog.core.canonical import record_signature
from testlog.core.chronicle import parse_chronicle
from testlog.errors import TestlogError
from testlog.core.runfiles import EVENT, SCHEMA_VERSION

_SUMMARY = re.compile(rf"^{EVENT} (?P<suite>\S+) (?P<verdict>PASS|FAIL) (?P<passed>\d+) passed "
                      r"(?P<failed>\d+) failed$")


def _trailer_sha(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value


def run_info(entry: LogEntry) -> dict[str, Any] | None:
    """Suite, verdict, counts and source of a run commit, from its message alone; else None."""
    if entry.trailers.get("Testlog-Event") != EVENT:
        return None
    match = _SUMMARY.match(entry.summary)
    return {"suite": entry.trailers.get("Testlog-Suite") or (match and match.group("suite")),
            "verdict": entry.trailers.get("Testlog-Verdict") or (match and match.group("verdict")),
            "passed": int(match.group("passed")) if match else None,
            "failed": int(match.group("failed")) if match else None,
            "source_commit": _trailer_sha(entry.trailers.get("Testlog-Source-Commit")),
            "source_tree": _trailer_sha(entry.trailers.get("Testlog-Source-Tree"))}


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
    if event.get("event") != EVENT or entry.trailers.get("Testlog-Event") != EVENT:
        raise TestlogError(f"{rev or entry.sha[:10]} is not a test run (it records "
                           f"{event.get('event', 'something else')}); see `git testlog log --runs`")
    return entry, event["artifact"]


def read_json(store: LogStore, path: str, sha: str) -> dict[str, Any]:
    """A JSON file of a run; refuses a newer schema and a hand-edited file."""
    try:
        data = json.loads(store.read(path, sha))
    except ValueError:
        raise TestlogError(f"{path} at {sha[:10]} is not valid JSON (edited by hand?)") from None
    version = data.get("schema_version", 0) if isinstance(data, dict) else 0
    if not isinstance(version, int) or version > SCHEMA_VERSION:
        raise TestlogError(f"{path} at {sha[:10]} has schema version {version}, newer than this "
                           f"git-testlog understands ({SCHEMA_VERSION}): upgrade git-testlog")
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
