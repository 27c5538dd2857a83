"""Numbers from the tools' reports: coverage percent from coverage.py JSON, latency percentiles
from pytest-benchmark's per-round data, and the environment fingerprint. Pure."""
from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import Any

from testlog.errors import TestlogError

PERCENTILES = (50, 95, 99)


def _inside(path: str, folder: str) -> bool:
    return not folder or path == folder or path.startswith(folder.rstrip("/") + "/")


def coverage_percent(report: dict[str, Any], root: str | Iterable[str],
                     excluded: Iterable[str]) -> float:
    """Percent covered (2 decimals) of the files under `root` (a folder, or the module's source
    folders) outside the `excluded` folders.

    Counted like coverage.py's total: (covered lines + covered branches) / (statements +
    branches). Nothing to measure counts as 100%, as coverage.py does.
    """
    skip = list(excluded)
    sources = [root] if isinstance(root, str) else list(root)
    covered = total = 0
    for path, entry in sorted(report.get("files", {}).items()):
        path = path.replace("\\", "/")
        if not any(_inside(path, source) for source in sources) or \
                any(_inside(path, folder) for folder in skip):
            continue
        summary = entry["summary"]
        covered += summary["covered_lines"] + summary.get("covered_branches", 0)
        total += summary["num_statements"] + summary.get("num_branches", 0)
    return round(100.0 * covered / total, 2) if total else 100.0


def percentile(ordered: list[float], p: float) -> float:
    """The p-th percentile of sorted values, interpolated linearly between the two nearest ranks
    (numpy.percentile's default: the rank is (n - 1) * p / 100)."""
    rank = (len(ordered) - 1) * p / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def latency_percentiles(samples_s: list[float]) -> dict[str, float]:
    """p50/p95/p99 in milliseconds of per-round seconds."""
    ordered = sorted(s * 1000.0 for s in samples_s)
    return {f"latency_p{p}_ms": round(percentile(ordered, p), 4) for p in PERCENTILES}


def benchmark_statistics(samples_s: list[float]) -> dict[str, Any]:
    """A recorded test's benchmark: min, median and p95 in ms of its per-round seconds, and
    its rounds (percentiles as numpy computes them, rounded like canonical JSON)."""
    ordered = sorted(s * 1000.0 for s in samples_s)
    if not ordered:
        return {"rounds": 0, "min_ms": None, "median_ms": None, "p95_ms": None}
    return {"rounds": len(ordered), "min_ms": round(ordered[0], 6),
            "median_ms": round(percentile(ordered, 50), 6),
            "p95_ms": round(percentile(ordered, 95), 6)}


def benchmark_samples(report: dict[str, Any], label: str) -> dict[str, list[float]]:
    """{benchmark fullname: per-round seconds} from `pytest --benchmark-json --benchmark-save-data`."""
    out = {}
    for bench in report.get("benchmarks", []):
        data = bench.get("stats", {}).get("data")
        if not data:
            raise TestlogError(f"{label}: benchmark {bench.get('name')!r} has no per-round data "
                               "(pytest-benchmark needs --benchmark-save-data)")
        out[bench.get("fullname") or bench["name"]] = [float(x) for x in data]
    return out


def env_fingerprint(python_version: str, os_name: str, arch: str, cpu: str) -> str:
    """First 16 hex digits of SHA-256 over python version, OS, arch and CPU."""
    text = "\n".join((python_version, os_name, arch, cpu))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
