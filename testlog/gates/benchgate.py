"""`bench` and the benchmark gate: each benchmark's p95 against the module's SLA and against its
base (noise-aware, re-measured once before failing); the bench ledger commit; the outcome."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from gitstore import GitStoreError, full_ref

from testlog.core import layout
from testlog.core.chronicle import BENCH_RECORDED
from testlog.core.gates import LatencyResult, number, slo_summary, slo_violation
from testlog.core.ledger import cached_entries
from testlog.core.manifest import Manifest, manifest_path, parse_manifest, with_observed_latency
from testlog.core.regression import (
    NOISY,
    PASS,
    REGRESSION,
    SPREAD_LIMIT,
    WITHIN_NOISE,
    Comparison,
    compare,
    too_noisy,
)
from testlog.errors import TestlogError
from testlog.gates.bench import (
    NO_BENCHMARKS,
    PERCENTILE_KEYS,
    BenchOutcome,
    bench_folders,
    describe,
    measure,
    measure_at,
    samples_from_report,
)
from testlog.gates.checkouts import Checkouts
from testlog.gates.gaterange import Ranges
from testlog.gates.invocation import (
    Begin,
    Invocation,
    announce,
    close_store,
    identity_at,
    read_report,
    record,
    report_recorded,
    run_all,
    start,
    store_later,
    write_back,
)
from testlog.gates.later import Later
from testlog.gates.outcome import GateOutcome, checked_nothing
from testlog.gates.pytest_run import ERROR, FAILED
from testlog.gates.workspace import Workspace, interpreter

if TYPE_CHECKING:
    from gitstore import LogStore

SHORT = 7


@dataclass(frozen=True)
class BenchRequest:
    selection: str
    jobs: int = 1
    use_cache: bool = True
    update: bool = False
    allow_empty: bool = False
    ranges: Ranges = field(default_factory=Ranges)
    from_change: bool = False


@dataclass(frozen=True)
class BaseSamples:
    commit: str
    samples: dict[str, list[float]] | None     # None: no base (see reason)
    reason: str = ""


@dataclass
class BenchJudge:
    """Finds bases (ledger, else measured in a checkout) and keeps the base lines measured."""
    inv: Invocation
    checkouts: Checkouts
    lines: list[dict[str, Any]] = field(default_factory=list)      # bases measured now
    reported: list[dict[str, Any]] = field(default_factory=list)   # their samples, for the report

    def base(self, manifest: Manifest, commit: str, begin: Begin) -> BaseSamples:
        try:
            tree, inputs = identity_at(self.inv.ws, manifest, commit)
        except GitStoreError as exc:
            return BaseSamples(commit, None, f"its tree cannot be read: {exc}")
        if tree is None:
            return BaseSamples(commit, None, "a new module")
        hits = cached_entries(list(self.inv.entries), manifest.label, tree,
                              self.inv.interp.fingerprint, inputs)
        known = samples_from_report(read_report(self.inv.ws, hits[-1].get("report", "")),
                                    manifest.label, tree) if hits else None
        return BaseSamples(commit, known) if known else \
            self.measure(manifest, commit, (tree, inputs), begin)

    def measure(self, manifest: Manifest, commit: str, identity: tuple[str, dict[str, str]],
                begin: Begin) -> BaseSamples:
        try:
            where = self.checkouts.folder(commit)
            with open(f"{where}/{manifest_path(manifest.root)}", encoding="utf-8") as handle:
                base_manifest = parse_manifest(handle.read(), manifest.root)
        except (GitStoreError, TestlogError, OSError) as exc:
            return BaseSamples(commit, None, f"it cannot be measured: {exc}")
        folders = bench_folders(where, base_manifest)
        if not folders:
            return BaseSamples(commit, None, "it had no benchmarks")
        outcome = measure_at(self.inv, base_manifest, begin, where, folders, kind=commit,
                             what=f"base {commit[:SHORT]} is not in the ledger: running the "
                                  "base's benchmarks")
        if outcome.status != "passed" or not outcome.samples:
            return BaseSamples(commit, None, "its benchmarks did not run")
        tree, inputs = identity
        extra = {"inputs": inputs} if inputs else {}
        self.lines += [{**{k: v for k, v in line.items() if k != "inputs"}, "tree": tree,
                        "source_commit": commit, "dirty": False, "role": "base", **extra}
                       for line in ledger_lines(self.inv, [outcome])]
        self.reported.append({"path": manifest.label, "tree": tree, "commit": commit,
                              "benchmarks": [{"benchmark": name, "samples_ms": samples}
                                             for name, samples in outcome.samples.items()]})
        return BaseSamples(commit, outcome.samples)


def verdict_of(bench: dict[str, Any], samples: list[float] | None, base: BaseSamples | None,
               factor: float | None, sla: float | None) -> dict[str, Any]:
    """One benchmark judged: noisy, SLA, regression against the base (within noise or not)."""
    noisy = samples is not None and too_noisy(samples)
    out = {**bench, "noisy": noisy, "sla_p95_ms": sla, "regression": None, "verdict": PASS}
    if noisy:
        # too noisy for p95 to mean anything, unless even the median is over the SLA
        over = sla is not None and bench["latency_p50_ms"] > sla
        out["verdict"] = "sla" if over else NOISY
        return out
    if sla is not None and bench["latency_p95_ms"] > sla:
        out["verdict"] = "sla"
    base_samples = (base.samples or {}).get(bench["benchmark"]) if base else None
    if factor is not None and base is not None and samples and base_samples:
        found: Comparison = compare(samples, base_samples, factor)
        out["regression"] = {"base_commit": base.commit, "ratio": round(found.ratio, 3),
                             "p_value": None if found.p_value is None else round(found.p_value, 6),
                             "verdict": found.verdict, "max_regression": factor,
                             "base_p95_ms": round(bench["latency_p95_ms"] / found.ratio, 4)
                             if found.ratio else None}
        if found.verdict in (REGRESSION, NOISY) and out["verdict"] == PASS:
            out["verdict"] = found.verdict
        elif found.verdict == WITHIN_NOISE and out["verdict"] == PASS:
            out["verdict"] = WITHIN_NOISE
    return out


def judge(outcome: BenchOutcome, base: BaseSamples | None) -> list[dict[str, Any]]:
    m = outcome.manifest
    return [verdict_of(b, (outcome.samples or {}).get(b["benchmark"]), base, m.max_regression,
                       m.latency_p95_ms) for b in outcome.benchmarks]


def must_remeasure(judged: list[dict[str, Any]]) -> bool:
    return any(b["verdict"] in (REGRESSION, NOISY) for b in judged)


def problems_of(outcome: BenchOutcome, judged: list[dict[str, Any]]) -> list[str]:
    name = outcome.manifest.name
    lines = []
    for b in judged:
        if b["verdict"] == "sla":
            lines.append(slo_violation(LatencyResult(name, b["benchmark"], b["latency_p95_ms"],
                                                     b["sla_p95_ms"])) or "")
        elif b["verdict"] == REGRESSION:
            r = b["regression"]
            lines.append(f"{name}: p95 {b['latency_p95_ms']:.3f} ms is {r['ratio']:.2f}x base "
                         f"{r['base_commit'][:SHORT]}'s {r['base_p95_ms']:.3f} ms > max "
                         f"regression {number(r['max_regression'])}x ({b['benchmark']}; slower "
                         f"in two measurements, p={r['p_value']:.1g})")
    if outcome.status in (FAILED, ERROR):
        lines.append(f"{name}: benchmarks {'failed' if outcome.status == FAILED else 'could not run'}")
    return [line for line in lines if line]


def notes_of(outcome: BenchOutcome, judged: list[dict[str, Any]],
             base: BaseSamples | None) -> list[str]:
    name = outcome.manifest.name
    notes = []
    if base is not None and base.samples is None and outcome.benchmarks:
        notes.append(f"{name}: base {base.commit[:SHORT]}: {base.reason}: judged on the SLA only")
    for b in judged:
        if b["verdict"] == NOISY:
            notes.append(f"{name}: {b['benchmark']} is too noisy to judge (p95 {b['spread']:.1f}x "
                         f"p50 > {SPREAD_LIMIT:g}x, measured twice): not judged, not cached; "
                         "measure it on a quieter machine")
        elif b["verdict"] == WITHIN_NOISE:
            r = b["regression"]
            notes.append(f"{name}: {b['benchmark']} p95 is {r['ratio']:.2f}x base "
                         f"{r['base_commit'][:SHORT]}'s, but within the noise (p={r['p_value']:.2f})")
    return notes


def ledger_lines(inv: Invocation, outcomes: list[BenchOutcome]) -> list[dict[str, Any]]:
    """One line per benchmark measured now; a benchmark too noisy to judge says so."""
    lines = []
    for o in outcomes:
        if o.cached_at or o.status != "passed":
            continue
        for b in o.benchmarks:
            line = {**inv.base_line(o.manifest), "benchmark": b["benchmark"],
                    **{k: b[k] for k in PERCENTILE_KEYS}, "rounds": b["rounds"],
                    "sla_p95_ms": o.manifest.latency_p95_ms}
            if too_noisy((o.samples or {}).get(b["benchmark"], [])):
                line["noisy"] = True
            lines.append(line)
    return lines


def module_entry(inv: Invocation, outcome: BenchOutcome, judged: list[dict[str, Any]],
                 remeasured: bool, problems: list[str]) -> dict[str, Any]:
    m = outcome.manifest
    return {"module": m.name, "path": m.label, "status": outcome.status,
            "cached": bool(outcome.cached_at), "remeasured": remeasured,
            "skipped": "no benchmarks" if outcome.status == NO_BENCHMARKS else None,
            "seconds": round(outcome.seconds, 3), "tree": inv.tree(m),
            "sla_p95_ms": m.latency_p95_ms, "max_regression": m.max_regression,
            "benchmarks": judged, "problems": problems}


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


@dataclass
class Judgement:
    outcome: BenchOutcome
    benchmarks: list[dict[str, Any]]
    base: BaseSamples | None
    remeasured: bool = False


def find_base(judge_: BenchJudge, req: BenchRequest, outcome: BenchOutcome,
              begin: Begin) -> BaseSamples | None:
    found = gate_range_of(req, outcome.manifest)
    if outcome.manifest.max_regression is None or found is None or outcome.status != "passed":
        return None
    return judge_.base(outcome.manifest, found, begin)


def gate_range_of(req: BenchRequest, manifest: Manifest) -> str | None:
    found = req.ranges.of(manifest, [manifest.root, *manifest.sources, *manifest.tests])
    return found.base if found else None


def saying(name: str) -> Begin:
    def begin(what: str) -> None:
        print(f"{name}: {what}...", flush=True)
    return begin


def judge_all(inv: Invocation, req: BenchRequest,
              outcomes: list[BenchOutcome]) -> tuple[list[Judgement], BenchJudge]:
    """Bases, verdicts, and one re-measurement of each module with a regression or noise;
    (the judgements, the finder holding the bases measured now)."""
    finder = BenchJudge(inv, Checkouts(inv.ws))
    bases = {o.manifest.root: find_base(finder, req, o, saying(o.manifest.name))
             for o in outcomes}
    judged = [Judgement(o, judge(o, bases[o.manifest.root]), bases[o.manifest.root])
              for o in outcomes]
    again = [j for j in judged if must_remeasure(j.benchmarks) and j.outcome.status == "passed"]
    if again:
        redo = run_all([j.outcome.manifest for j in again], 1,
                       lambda m, begin: measure(replace(inv, use_cache=False), m, begin, True),
                       describe)
        for j, outcome in zip(again, redo):
            j.outcome, j.remeasured = outcome, True
            j.benchmarks = judge(outcome, j.base)
    return judged, finder


def record_bench(store: Later[LogStore], inv: Invocation, judged: list[Judgement],
                 modules: list[dict[str, Any]], problems: list[str], selection: str,
                 bases: BenchJudge) -> str | None:
    lines = ledger_lines(inv, [j.outcome for j in judged]) + bases.lines
    if not lines:
        return None
    verdict = "FAIL" if problems else "PASS"
    stored = [{**entry, "benchmarks": [{**b, "samples_ms": (j.outcome.samples or {}).get(
        b["benchmark"], [])} for b in entry["benchmarks"]]} if not j.outcome.cached_at else entry
        for j, entry in zip(judged, modules)]
    report = {"kind": "bench", "selection": selection, "problems": problems, "modules": stored,
              "bases": bases.reported}
    summary = f"{BENCH_RECORDED} {len(lines)} benchmark{'s' if len(lines) != 1 else ''} {verdict}"
    return record(store.result(), inv, ledger=layout.BENCH, event=BENCH_RECORDED,
                  lines=lines, report=report, verdict=verdict, summary=summary)


def run_bench(ws: Workspace, manifests: list[Manifest], req: BenchRequest) -> GateOutcome:
    if not manifests:
        why = "no module owns a changed file" if req.from_change else \
            "no modules here (a module is a folder with module.manifest.json)"
        return checked_nothing("SLO gate", "bench", req.selection, f"{req.selection}: {why}",
                               gate=True, allow_empty=req.allow_empty, passes=req.from_change)
    interp = interpreter(ws)
    interp.require("pytest_benchmark")
    announce("Benchmarks", manifests, req.selection, interp)
    store = store_later(ws)
    try:
        inv = start(ws, interp, manifests, layout.BENCH, req.use_cache, "bench", "bench")
        outcomes = run_all(manifests, req.jobs, lambda m, begin: measure(
            inv, m, begin, m.max_regression is not None and gate_range_of(req, m) is not None),
            describe)
        judged, bases = judge_all(inv, req, outcomes)
        problems = [p for j in sorted(judged, key=lambda j: j.outcome.manifest.name)
                    for p in problems_of(j.outcome, j.benchmarks)]
        notes = [n for j in judged for n in notes_of(j.outcome, j.benchmarks, j.base)]
        notes += [f"{m.name}: no base to compare with (give --base REV, or push to a remote "
                  "with a default branch): the regression check is skipped"
                  for m in manifests if m.max_regression is not None
                  and gate_range_of(req, m) is None]
        modules = [module_entry(inv, j.outcome, j.benchmarks, j.remeasured,
                                problems_of(j.outcome, j.benchmarks)) for j in judged]
        sha = record_bench(store, inv, judged, modules, problems, req.selection, bases)
    finally:
        close_store(store)
    final = [j.outcome for j in judged]
    report_recorded(sha, len(ledger_lines(inv, final)) + len(bases.lines), "benchmark",
                    inv.ledger_file(layout.BENCH), full_ref(ws.settings["branch"].value))
    if req.update:
        write_back(ws, manifest_updates(inv, final))
    return bench_outcome(req, inv, judged, modules, problems, notes, sha)


def bench_outcome(req: BenchRequest, inv: Invocation, judged: list[Judgement],
                  modules: list[dict[str, Any]], problems: list[str], notes: list[str],
                  sha: str | None) -> GateOutcome:
    results = [LatencyResult(j.outcome.manifest.name, b["benchmark"], b["latency_p95_ms"],
                             j.outcome.manifest.latency_p95_ms)
               for j in judged for b in j.benchmarks]
    if not results and not problems:
        skipped = ", ".join(j.outcome.manifest.name for j in judged)
        out = checked_nothing("SLO gate", "bench", req.selection,
                              f"no benchmark ran (no benchmarks in {skipped})", gate=True,
                              allow_empty=req.allow_empty, passes=False)
        return out.with_modules(modules, inv, sha)
    noisy = sum(1 for j in judged for b in j.benchmarks if b["verdict"] == NOISY)
    summary = slo_summary(results, problems) + (f" ({noisy} too noisy to judge)" if noisy else "")
    return GateOutcome("bench", req.selection, "fail" if problems else "pass",
                       1 if problems else 0, problems, notes, summary, modules, inv.interp, sha)
