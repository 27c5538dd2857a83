"""timing_summary.json: per test, the mean and variance of its duration over every recorded run.

Kept as running (count, mean, M2) sums updated with each run (Welford), so a commit reads one
file instead of every earlier run.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from testlog.core import schema


def empty_summary() -> dict[str, Any]:
    return {"schema_version": schema.TIMING_SUMMARY, "tests": {}}


def parse_summary(data: bytes | None) -> dict[str, Any]:
    """The stored summary, or an empty one when absent or unreadable (it is derived data)."""
    if not data:
        return empty_summary()
    try:
        summary = json.loads(data)
    except ValueError:
        return empty_summary()
    if not isinstance(summary, dict) or not isinstance(summary.get("tests"), dict):
        return empty_summary()
    return summary


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
