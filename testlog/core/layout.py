"""The one module that knows paths on the log branch (spec V: `<YYYYMMDD>__<suite>__<category>`)."""
from __future__ import annotations

import re
from datetime import date, datetime

INDEX = "README.md"
CHRONICLE = "chronicle.ndjson"
# The gates' ledgers: one NDJSON file per day, ledger/<kind>/<YYYY-MM>/<DD>.ndjson, so a commit
# appends to one day's lines and rewrites no folder that grows with the history. Before, each
# kind was one file (LEGACY_LEDGERS), rewritten whole by every commit; it is still read.
COVERAGE, BENCH = "coverage", "bench"
LEDGER_DIR = "ledger"
LEGACY_LEDGERS = {COVERAGE: "ledger/coverage.ndjson", BENCH: "ledger/bench.ndjson"}
TIMING_SUMMARY = "timing/timing_summary.json"
AUDIT_DIR = "audit"

# Commit trailers: git's `Key: value` lines under a log commit's message.
TRAILER_EVENT_SHA256 = "Testlog-Event-SHA256"
TRAILER_EVENT_RECORD = "Testlog-Event-Record"
TRAILER_PREVIOUS_EVENT = "Testlog-Previous-Event"
TRAILER_EVENT = "Testlog-Event"
TRAILER_SCHEMA = "Testlog-Schema"
TRAILER_SUITE = "Testlog-Suite"
TRAILER_VERDICT = "Testlog-Verdict"
TRAILER_SOURCE_COMMIT = "Testlog-Source-Commit"
TRAILER_SOURCE_TREE = "Testlog-Source-Tree"
TRAILER_SELECTION = "Testlog-Selection"        # a partial run: how it selected its tests
TRAILER_RUN_ID = "Testlog-Run-Id"              # a shard: the run id its shards share
TRAILER_SHARD = "Testlog-Shard"                # a shard: `K/N` (core/shards.py)
TRAILER_REPLAY_OF = "Testlog-Replay-Of"
TRAILER_PREVIOUS_TIP = "Testlog-Previous-Tip"
TRAILER_ARCHIVE_SHA256 = "Testlog-Archive-SHA256"
TRAILER_REBUILT_FROM = "Testlog-Rebuilt-From"
TRAILER_SEAL_DATE = "Testlog-Seal-Date"

# category -> directory on the branch
DIRECTORIES = {
    "run": "runs", "summary": "summaries", "timing": "timing", "determinism": "determinism",
    "errors": "errors", "coverage": "coverage", "replay": "replays", "dirty": "runs",
    "replayerrors": "errors", "entropy": "runs",
}
# `~` and `+` name a partial run's selection (`tests~k+m-3f2a`, see core/selection.py).
_SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.~+-]*$")
_ARTIFACT = re.compile(r"^(?P<dir>[a-z]+)/(?P<date>\d{8})__(?P<suite>.+?)__(?P<category>[a-z]+)\.(?P<ext>[a-z0-9.]+)$")


def check_suite(suite: str) -> str:
    """A suite name is one path segment without the `__` separator."""
    if not _SUITE.match(suite) or "__" in suite:
        raise ValueError(f"invalid suite name {suite!r}: use letters, digits, '_', '.', '-' "
                         "(and '~', '+'; no '__', not starting with a symbol)")
    return suite


def day_stamp(day: date | datetime) -> str:
    return day.strftime("%Y%m%d")


def artifact_path(category: str, ext: str, day: date | datetime, suite: str) -> str:
    """e.g. ("run", "json", 2025-11-01, "unit") -> runs/20251101__unit__run.json"""
    return f"{DIRECTORIES[category]}/{day_stamp(day)}__{check_suite(suite)}__{category}.{ext}"


def replay_paths(day: date | datetime, suite: str) -> dict[str, str]:
    """A replay's report (replays/…__replay.md/.json) and its error log (errors/…__replayerrors.*)."""
    return {"md": artifact_path("replay", "md", day, suite),
            "json": artifact_path("replay", "json", day, suite),
            "errors_log": artifact_path("replayerrors", "log", day, suite),
            "errors_json": artifact_path("replayerrors", "json", day, suite)}


def parse_artifact(path: str) -> dict[str, str] | None:
    """{"dir", "date", "suite", "category", "ext"} of an artifact path, or None."""
    match = _ARTIFACT.match(path)
    return match.groupdict() if match else None


# What a seal bundles (spec X), and what rotation may take off the tip tree (dated run files).
SEALED_DIRS = ("runs", "timing", "determinism", "summaries")
ROTATED_DIRS = tuple(sorted(set(DIRECTORIES.values())))
RETENTION_DIR = "retention"
_AUDIT_ZIP = re.compile(r"^audit/logs_audit_(\d{4})_(\d{2})_(\d{2})\.zip$")


def audit_paths(day: date) -> dict[str, str]:
    """The three files of one seal: the zip, its detached signature, its sha256sum manifest."""
    stem = f"{AUDIT_DIR}/logs_audit_{day.strftime('%Y_%m_%d')}"
    return {"zip": f"{stem}.zip", "sig": f"{stem}.zip.sig", "manifest": f"{stem}.manifest.sha256"}


def day_folder(day: date | datetime) -> str:
    """`YYYY-MM/DD`: a month's folder holds at most 31 days, the top one a folder per month."""
    return day.strftime("%Y-%m/%d")


def ledger_folder(kind: str) -> str:
    if kind not in LEGACY_LEDGERS:
        raise ValueError(f"unknown ledger {kind!r}")
    return f"{LEDGER_DIR}/{kind}"


def ledger_path(kind: str, day: date | datetime) -> str:
    """e.g. ("coverage", 2025-11-01) -> ledger/coverage/2025-11/01.ndjson"""
    return f"{ledger_folder(kind)}/{day_folder(day)}.ndjson"


_LEDGER_FILE = re.compile(r"^ledger/(?P<kind>coverage|bench)/\d{4}-\d{2}/\d{2}\.ndjson$")


def is_ledger_file(kind: str, path: str) -> bool:
    """Whether `path` (read from a log branch) is one day's file of that ledger."""
    match = _LEDGER_FILE.match(path)
    return match is not None and match.group("kind") == kind


MEASUREMENTS_DIR = "measurements"


def measurement_path(category: str, day: date | datetime, run_id: str) -> str:
    """One coverage or bench invocation's report, named in its ledger lines and its chronicle
    event, in a folder per day, e.g. ("coverage", 2025-11-01, "cov-1a2b3c4d5e6f") ->
    measurements/2025-11/01/20251101__cov-1a2b3c4d5e6f__coverage.json (before: directly in
    measurements/, still read)."""
    if category not in ("coverage", "bench"):
        raise ValueError(f"unknown measurement category {category!r}")
    return (f"{MEASUREMENTS_DIR}/{day_folder(day)}/{day_stamp(day)}__{check_suite(run_id)}__"
            f"{category}.json")


_MEASUREMENT = re.compile(r"^measurements/(?:\d{4}-\d{2}/\d{2}/)?\d{8}__"
                          r"(?P<run>(?:cov|bench)-[0-9a-f]{12})__(?P<category>coverage|bench)\.json$")


def parse_measurement(path: str) -> dict[str, str] | None:
    """{"run", "category"} of a measurement report's path, or None when `path` is not one
    (a path read from a ledger line is checked against this before it is read)."""
    match = _MEASUREMENT.match(path)
    return match.groupdict() if match else None


def seal_day(path: str) -> date | None:
    """The day of a seal's zip path, or None when `path` is not one."""
    match = _AUDIT_ZIP.match(path)
    try:
        return date(*map(int, match.groups())) if match else None
    except ValueError:
        return None             # audit/logs_audit_2025_13_45.zip names no day


def artifact_day(path: str) -> date | None:
    """The date in an artifact's file name (`runs/20251101__unit__run.json`), or None."""
    parsed = parse_artifact(path)
    if parsed is None:
        return None
    try:
        return datetime.strptime(parsed["date"], "%Y%m%d").date()
    except ValueError:
        return None


RUN_EXTENSIONS = ("json", "jsonl")     # the full format, the compact one (core/compact.py)


def is_run_file(path: str) -> bool:
    """A run's own file: runs/<day>__<suite>__run.json (full) or .jsonl (compact)."""
    parsed = parse_artifact(path)
    return bool(parsed and parsed["dir"] == "runs" and parsed["category"] == "run"
                and parsed["ext"] in RUN_EXTENSIONS)


def rotation_record_path(day: date) -> str:
    return f"{RETENTION_DIR}/rotation_{day.strftime('%Y_%m_%d')}.json"


def epoch_record_path(day: date) -> str:
    return f"{RETENTION_DIR}/epoch_{day.strftime('%Y_%m_%d')}.json"


def sibling_path(artifact: str, category: str, ext: str) -> str:
    """The same run's file of another category: runs/D__S__run.json -> summaries/D__S__summary.md."""
    parts = parse_artifact(artifact)
    if parts is None:
        raise ValueError(f"not an artifact path: {artifact!r}")
    return artifact_path(category, ext, datetime.strptime(parts["date"], "%Y%m%d"), parts["suite"])
