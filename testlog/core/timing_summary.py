"""timing_summary.json: per test, the mean and variance of its duration over every recorded run.

Kept as running (count, mean, M2) sums updated with each run (Welford), so a commit reads one
file instead of every earlier run.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from testlog.core import branchjson, schema


def empty_summary() -> dict[str, Any]:
    return {"schema_version": schema.TIMING_SUMMARY, "tests": {}}


def parse_summary(data: bytes | None) -> dict[str, Any]:
    """The stored summary, or an empty one when absent or unreadable (it is derived data)."""
    if not data:
        return empty_summary()
    try:
        summary = branchjson.loads(data)
    except ValueError:
        return empty_summary()
    if not isinstance(summary, dict) or not isinstance(summary.get("tests"), dict):
        return empty_summary()
    # Entries of another shape (a hand-edited or hostile branch) are dropped, not trusted.
    tests = {name: entry for name, entry in summary["tests"].items() if _entry_ok(entry)}
    return {**summary, "tests": tests}


def _entry_ok(entry: Any) -> bool:
    if not isinstance(entry, dict) or not isinstance(entry.get("runs"), int) or entry["runs"] < 1:
        return False
    return all(isinstance(entry.get(k), (int, float)) and not isinstance(entry.get(k), bool)
               for k in ("mean_ms", "m2"))


def merged(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two entries' samples as one (Chan et al.'s parallel mean and variance)."""
    count = a["runs"] + b["runs"]
    delta = b["mean_ms"] - a["mean_ms"]
    mean = a["mean_ms"] + delta * b["runs"] / count
    m2 = a["m2"] + b["m2"] + delta * delta * a["runs"] * b["runs"] / count
    return {"runs": count, "mean_ms": round(mean, 6), "m2": round(m2, 6),
            "variance_ms2": round(m2 / (count - 1), 6) if count > 1 else 0.0,
            "last_ms": b.get("last_ms", a.get("last_ms"))}


def renamed(summary: dict[str, Any], rename: Callable[[list[str]], list[str]]) -> dict[str, Any]:
    """The summary with its test names rewritten; entries that become one are merged."""
    names = list(summary.get("tests", {}))
    new_names = rename(names)
    if new_names is names:
        return summary
    tests: dict[str, Any] = {}
    for old, new in zip(names, new_names):
        entry = summary["tests"][old]
        tests[new] = merged(tests[new], entry) if new in tests else entry
    return {**summary, "tests": tests}


def add_sample(entry: dict[str, Any] | None, duration_ms: float) -> dict[str, Any]:
    count = (entry or {}).get("runs", 0) + 1
    mean = (entry or {}).get("mean_ms", 0.0)
    m2 = (entry or {}).get("m2", 0.0)
    delta = duration_ms - mean
    mean += delta / count
    m2 += delta * (duration_ms - mean)
    variance = m2 / (count - 1) if count > 1 else 0.0
    return {"runs": count, "mean_ms": round(mean, 6), "m2": round(m2, 6),
            "variance_ms2": round(variance, 6), "last_ms": duration_ms}


def updated_summary(previous: dict[str, Any],
                    durations: Iterable[tuple[str, float]]) -> dict[str, Any]:
    """`previous` with one sample per (test_name, duration_ms) of this run added."""
    tests = dict(previous.get("tests", {}))
    for name, duration_ms in durations:
        tests[name] = add_sample(tests.get(name), duration_ms)
    return {"schema_version": schema.TIMING_SUMMARY, "tests": tests}
