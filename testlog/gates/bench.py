"""Benchmarks of modules: pytest-benchmark's per-round data -> p50/p95/p99 ms, measured (or
taken from the ledger cache) in the working tree or in a checkout of a base commit."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from testlog.core.ledger import cached_entries
from testlog.core.manifest import BENCHMARKS_FOLDER, Manifest
from testlog.core.measures import benchmark_samples, latency_percentiles
from testlog.core.regression import kept_samples, spread
from testlog.gates.childenv import child_env
from testlog.gates.invocation import Begin, Invocation, indent, read_report, scratch_for
from testlog.gates.pytest_run import ERROR, FAILED, NO_TESTS, bench_argv, run_pytest

NO_BENCHMARKS = "no-benchmarks"
PERCENTILE_KEYS = ("latency_p50_ms", "latency_p95_ms", "latency_p99_ms")


@dataclass(frozen=True)
class BenchOutcome:
    manifest: Manifest
    status: str                           # passed | failed | no-benchmarks | error
    benchmarks: list[dict[str, Any]] = field(default_factory=list)  # name, percentiles, rounds
    seconds: float = 0.0
    tail: str = ""
    cached_at: str | None = None
    samples: dict[str, list[float]] | None = None     # kept per-round ms, per benchmark


def bench_folders(root: str, manifest: Manifest) -> list[str]:
    """`<tests>/benchmarks` of each of the module's test folders that has one, under `root`."""
    found = []
    for tests in manifest.tests:
        folder = f"{tests}/{BENCHMARKS_FOLDER}" if tests else BENCHMARKS_FOLDER
        if os.path.isdir(os.path.join(root, folder)):
            found.append(folder)
    return found


def samples_from_report(data: bytes | None, label: str,
                        tree: str | None) -> dict[str, list[float]] | None:
    """A module's kept samples at `tree` from a stored bench report (measured, or measured as a
    base); read from the log branch, so checked."""
    try:
        report = json.loads(data) if data else None
        entries = [*report.get("modules", []), *report.get("bases", [])] \
            if isinstance(report, dict) else []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("path") == label and entry.get("tree") == tree:
                found = {str(b["benchmark"]): [float(x) for x in b["samples_ms"]]
                         for b in entry.get("benchmarks", [])}
                return found or None
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def from_cache(inv: Invocation, manifest: Manifest, need_samples: bool) -> BenchOutcome | None:
    if not inv.use_cache or inv.is_dirty(manifest):
        return None
    hits = cached_entries(list(inv.entries), manifest.label, inv.tree(manifest),
                          inv.interp.fingerprint, inv.inputs(manifest))
    if not hits:
        return None
    samples = samples_from_report(read_report(inv.ws, hits[-1].get("report", "")),
                                  manifest.label, inv.tree(manifest)) if need_samples else None
    if need_samples and samples is None:
        return None
    keys = ("benchmark", *PERCENTILE_KEYS, "rounds")
    return BenchOutcome(manifest, "passed", [{k: h[k] for k in keys} for h in hits],
                        cached_at=hits[-1]["ts"], samples=samples)


def summarise(report: dict[str, Any], label: str) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    """(one row per benchmark: percentiles, rounds, spread; the kept samples in ms)."""
    rows, kept = [], {}
    for name, samples in sorted(benchmark_samples(report, label).items()):
        rows.append({"benchmark": name, **latency_percentiles(samples), "rounds": len(samples),
                     "spread": round(spread(samples), 3)})
        kept[name] = kept_samples([s * 1000.0 for s in samples])
    return rows, kept


def measure(inv: Invocation, manifest: Manifest, begin: Begin, need_samples: bool) -> BenchOutcome:
    folders = bench_folders(inv.ws.root, manifest)
    if not folders:
        return BenchOutcome(manifest, NO_BENCHMARKS)
    cached = from_cache(inv, manifest, need_samples)
    if cached:
        return cached
    return measure_at(inv, manifest, begin, inv.ws.root, folders)


def measure_at(inv: Invocation, manifest: Manifest, begin: Begin, where: str,
               folders: list[str], kind: str = "",
               what: str = "running its benchmarks") -> BenchOutcome:
    begin(what)
    scratch = scratch_for(inv, manifest, f"bench{kind}")
    report = os.path.join(scratch, "bench.json")
    run = run_pytest(bench_argv(inv.interp.path, folders, report, scratch), where,
                     child_env(scratch), report, inv.ws.starter)
    if run.status == NO_TESTS:
        return BenchOutcome(manifest, NO_BENCHMARKS, seconds=run.seconds)
    rows, kept = summarise(run.report, ", ".join(folders)) if run.report else ([], {})
    return BenchOutcome(manifest, run.status, rows, run.seconds, run.tail, samples=kept)


def describe(outcome: BenchOutcome) -> str:
    name = outcome.manifest.name
    if outcome.status == NO_BENCHMARKS:
        return f"{name}: no benchmarks (skipped)"
    if outcome.status == ERROR:
        return f"{name}: pytest could not run the benchmarks\n" + indent(outcome.tail)
    lines = [f"{name}: {len(outcome.benchmarks)} benchmark(s)" +
             (f" (cached: measured {outcome.cached_at} at this tree in this environment)"
              if outcome.cached_at else f" ({outcome.seconds:.1f}s)") +
             (" - benchmarks FAILED" if outcome.status == FAILED else "")]
    for b in outcome.benchmarks:
        lines.append(f"    {b['benchmark']}: p50={b['latency_p50_ms']:.3f} "
                     f"p95={b['latency_p95_ms']:.3f} p99={b['latency_p99_ms']:.3f} ms "
                     f"({b['rounds']} rounds)")
    if outcome.status == FAILED:
        lines.append(indent(outcome.tail))
    return "\n".join(lines)
