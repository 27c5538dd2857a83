"""Benchmarks of modules: pytest-benchmark's per-round data -> p50/p95/p99 ms -> the bench
ledger; the SLO gate compares each benchmark's p95 with the module's latency SLA."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from gitstore import LogStore

from testlog.core import layout
from testlog.core.chronicle import BENCH_RECORDED
from testlog.core.gates import LatencyResult, slo_summary, slo_violation
from testlog.core.ledger import cached_entries
from testlog.core.manifest import Manifest, with_observed_latency
from testlog.core.measures import benchmark_samples, latency_percentiles
from testlog.gates.invocation import (
    Invocation,
    announce,
    indent,
    open_ledger_log,
    record,
    report_recorded,
    run_all,
    scratch_for,
    start,
    write_back,
)
from testlog.gates.pytest_run import (
    ERROR,
    FAILED,
    NO_TESTS,
    bench_argv,
    bench_dir,
    child_env,
    run_pytest,
)
from testlog.gates.workspace import Workspace, interpreter

NO_BENCHMARKS = "no-benchmarks"


@dataclass(frozen=True)
class BenchOutcome:
    manifest: Manifest
    status: str                           # passed | failed | no-benchmarks | error
    benchmarks: list[dict[str, Any]] = field(default_factory=list)  # name, percentiles, rounds
    seconds: float = 0.0
    tail: str = ""
    cached_at: str | None = None

    def latencies(self) -> list[LatencyResult]:
        return [LatencyResult(self.manifest.name, b["benchmark"], b["latency_p95_ms"],
                              self.manifest.latency_p95_ms) for b in self.benchmarks]


def from_cache(inv: Invocation, manifest: Manifest) -> BenchOutcome | None:
    if not inv.use_cache or manifest.root in inv.dirty:
        return None
    hits = cached_entries(list(inv.entries), manifest.label, inv.tree(manifest),
                          inv.interp.fingerprint)
    if not hits:
        return None
    keys = ("benchmark", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "rounds")
    return BenchOutcome(manifest, "passed", [{k: h[k] for k in keys} for h in hits],
                        cached_at=hits[-1]["ts"])


def summarise(report: dict[str, Any], label: str) -> list[dict[str, Any]]:
    rows = []
    for name, samples in sorted(benchmark_samples(report, label).items()):
        rows.append({"benchmark": name, **latency_percentiles(samples), "rounds": len(samples)})
    return rows


def measure(inv: Invocation, manifest: Manifest) -> BenchOutcome:
    if not os.path.isdir(os.path.join(inv.ws.root, bench_dir(manifest.root))):
        return BenchOutcome(manifest, NO_BENCHMARKS)
    cached = from_cache(inv, manifest)
    if cached:
        return cached
    scratch = scratch_for(inv, manifest)
    report = os.path.join(scratch, "bench.json")
    run = run_pytest(bench_argv(inv.interp.path, manifest.root, report, scratch), inv.ws.root,
                     child_env(scratch), report)
    if run.status == NO_TESTS:
        return BenchOutcome(manifest, NO_BENCHMARKS, seconds=run.seconds)
    rows = summarise(run.report, bench_dir(manifest.root)) if run.report else []
    return BenchOutcome(manifest, run.status, rows, run.seconds, run.tail)


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


def ledger_lines(inv: Invocation, outcomes: list[BenchOutcome]) -> list[dict[str, Any]]:
    """One line per benchmark measured now, with the module's SLA when it has one."""
    return [{**inv.base_line(o.manifest), **b, "sla_p95_ms": o.manifest.latency_p95_ms}
            for o in outcomes if not o.cached_at and o.status == "passed" for b in o.benchmarks]


def record_bench(store: LogStore, inv: Invocation, outcomes: list[BenchOutcome], selection: str,
                 problems: list[str]) -> str | None:
    lines = ledger_lines(inv, outcomes)
    if not lines:
        return None
    verdict = "FAIL" if problems else "PASS"
    report = {"kind": "bench", "selection": selection, "problems": problems,
              "modules": [{"module": o.manifest.name, "path": o.manifest.label,
                           "status": o.status, "cached": bool(o.cached_at),
                           "tree": inv.tree(o.manifest), "sla_p95_ms": o.manifest.latency_p95_ms,
                           "benchmarks": o.benchmarks} for o in outcomes]}
    summary = f"{BENCH_RECORDED} {len(lines)} benchmark{'s' if len(lines) != 1 else ''} {verdict}"
    return record(store, inv, category="bench", ledger=layout.BENCH_LEDGER, event=BENCH_RECORDED,
                  lines=lines, report=report, verdict=verdict, summary=summary)


def observed(inv: Invocation, outcome: BenchOutcome) -> dict[str, Any]:
    """`performance.observed`: the module's slowest benchmark by p95."""
    worst = max(outcome.benchmarks, key=lambda b: b["latency_p95_ms"])
    return {"latency_p50_ms": worst["latency_p50_ms"], "latency_p95_ms": worst["latency_p95_ms"],
            "latency_p99_ms": worst["latency_p99_ms"], "benchmark": worst["benchmark"],
            "env_fingerprint": inv.interp.fingerprint, "observed_at": outcome.cached_at or inv.ts}


def manifest_updates(inv: Invocation,
                     outcomes: list[BenchOutcome]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """(manifest, data with the observed p95) of each module whose benchmarks passed."""
    return ((o.manifest, with_observed_latency(o.manifest.raw, observed(inv, o)))
            for o in outcomes if o.benchmarks and o.status == "passed")


def bench_problems(outcomes: list[BenchOutcome]) -> list[str]:
    problems = []
    for o in sorted(outcomes, key=lambda o: o.manifest.name):
        problems += [v for v in map(slo_violation, o.latencies()) if v]
        if o.status in (FAILED, ERROR):
            problems.append(f"{o.manifest.name}: benchmarks {'failed' if o.status == FAILED else 'could not run'}")
    return problems


def run_bench(ws: Workspace, manifests: list[Manifest], selection: str, *, jobs: int,
              use_cache: bool, update: bool) -> int:
    if not manifests:
        print(f"No modules to benchmark ({selection}: none).")
        return 0
    interp = interpreter(ws)
    interp.require("pytest_benchmark")
    announce("Benchmarks", manifests, selection, interp)
    with open_ledger_log(ws) as store:
        inv = start(ws, interp, manifests, store, layout.BENCH_LEDGER, use_cache, "bench")
        outcomes = run_all(manifests, jobs, lambda m: measure(inv, m), describe)
        problems = bench_problems(outcomes)
        sha = record_bench(store, inv, outcomes, selection, problems)
    report_recorded(sha, len(ledger_lines(inv, outcomes)), "benchmark", layout.BENCH_LEDGER,
                    store.ref)
    if update:
        write_back(ws, manifest_updates(inv, outcomes))
    for line in problems:
        print(line)
    print(slo_summary([r for o in outcomes for r in o.latencies()], problems))
    return 1 if problems else 0
