"""The one module that knows paths on the log branch (spec V: `<YYYYMMDD>__<suite>__<category>`)."""
from __future__ import annotations

import re
from datetime import date, datetime

INDEX = "README.md"
CHRONICLE = "chronicle.ndjson"
COVERAGE_LEDGER = "ledger/coverage.ndjson"
BENCH_LEDGER = "ledger/bench.ndjson"
TIMING_SUMMARY = "timing/timing_summary.json"
AUDIT_DIR = "audit"

# category -> directory on the branch
DIRECTORIES = {
    "run": "runs", "summary": "summaries", "timing": "timing", "determinism": "determinism",
    "errors": "errors", "coverage": "coverage", "replay": "replays", "dirty": "runs",
    "replayerrors": "errors",
}
_SUITE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_ARTIFACT = re.compile(r"^(?P<dir>[a-z]+)/(?P<date>\d{8})__(?P<suite>.+?)__(?P<category>[a-z]+)\.(?P<ext>[a-z0-9.]+)$")


def check_suite(suite: str) -> str:
    """A suite name is one path segment without the `__` separator."""
    if not _SUITE.match(suite) or "__" in suite:
        raise ValueError(f"invalid suite name {suite!r}: use letters, digits, '_', '.', '-' "
                         "(no '__', not starting with a symbol)")
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


def audit_paths(day: date) -> dict[str, str]:
    stem = f"{AUDIT_DIR}/logs_audit_{day.strftime('%Y_%m_%d')}"
    return {"zip": f"{stem}.zip", "sig": f"{stem}.zip.sig", "manifest": f"{stem}.manifest.sha256"}


def sibling_path(artifact: str, category: str, ext: str) -> str:
    """The same run's file of another category: runs/D__S__run.json -> summaries/D__S__summary.md."""
    parts = parse_artifact(artifact)
    if parts is None:
        raise ValueError(f"not an artifact path: {artifact!r}")
    return artifact_path(category, ext, datetime.strptime(parts["date"], "%Y%m%d"), parts["suite"])
