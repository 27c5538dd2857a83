"""Coverage of modules: measure (or take from the ledger cache), gate, record, write back."""
from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gitstore import LogStore

from testlog.core import layout
from testlog.core.chronicle import COVERAGE_RECORDED
from testlog.core.gates import CoverageResult, coverage_problems, coverage_summary
from testlog.core.ledger import cached_entries
from testlog.core.manifest import Manifest, with_observed_coverage
from testlog.core.measures import coverage_percent
from testlog.core.modules import nested_roots
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
    NO_TESTS_DIR,
    child_env,
    coverage_argv,
    run_pytest,
    tests_argv,
    tests_dir,
)
from testlog.gates.workspace import Workspace, interpreter


@dataclass(frozen=True)
class CovOutcome:
    manifest: Manifest
    status: str                  # passed | failed | no-tests | no-tests-dir | error
    coverage: float | None
    seconds: float = 0.0
    tail: str = ""
    cached_at: str | None = None  # the ledger timestamp when taken from the cache

    def as_result(self) -> CoverageResult:
        m = self.manifest
        return CoverageResult(m.name, m.lane, m.coverage_target, self.coverage, self.status)


def has_tests_dir(inv: Invocation, manifest: Manifest) -> bool:
    return os.path.isdir(os.path.join(inv.ws.root, tests_dir(manifest.root)))


def from_cache(inv: Invocation, manifest: Manifest) -> CovOutcome | None:
    if not inv.use_cache or manifest.root in inv.dirty:
        return None
    hits = cached_entries(list(inv.entries), manifest.label, inv.tree(manifest),
                          inv.interp.fingerprint)
    if not hits:
        return None
    entry = hits[-1]
    return CovOutcome(manifest, entry["tests"], entry["coverage"], cached_at=entry["ts"])


def measure(inv: Invocation, manifest: Manifest) -> CovOutcome:
    if not has_tests_dir(inv, manifest):
        return CovOutcome(manifest, NO_TESTS_DIR, None)
    cached = from_cache(inv, manifest)
    if cached:
        return cached
    scratch = scratch_for(inv, manifest)
    report = os.path.join(scratch, "coverage.json")
    argv = coverage_argv(inv.interp.path, manifest.root, report,
                         "pytest_benchmark" in inv.interp.plugins, scratch)
    run = run_pytest(argv, inv.ws.root, child_env(scratch), report)
    coverage = None
    if run.status == NO_TESTS:
        coverage = 0.0
    elif run.report is not None:
        excluded = [tests_dir(manifest.root), *nested_roots(manifest.root, inv.ws.all_roots)]
        coverage = coverage_percent(run.report, manifest.root, excluded)
    return CovOutcome(manifest, run.status, coverage, run.seconds, run.tail)


def run_tests_only(inv: Invocation, manifest: Manifest) -> CovOutcome:
    """The module's tests without coverage (the pre-commit stage): pass or fail, nothing else."""
    if not has_tests_dir(inv, manifest):
        return CovOutcome(manifest, NO_TESTS_DIR, None)
    scratch = scratch_for(inv, manifest)
    argv = tests_argv(inv.interp.path, manifest.root, "pytest_benchmark" in inv.interp.plugins,
                      scratch)
    run = run_pytest(argv, inv.ws.root, child_env(scratch), None)
    return CovOutcome(manifest, run.status, None, run.seconds, run.tail)


def describe(outcome: CovOutcome) -> str:
    name = outcome.manifest.name
    if outcome.status == NO_TESTS_DIR:
        return f"{name}: no tests/ folder (skipped)"
    if outcome.cached_at:
        return (f"{name}: {outcome.coverage:.2f}% (cached: measured {outcome.cached_at} at this "
                "tree in this environment; --no-cache re-runs)")
    if outcome.status == ERROR:
        return f"{name}: pytest could not run the tests ({outcome.seconds:.1f}s)\n" + indent(outcome.tail)
    what = {NO_TESTS: "no tests collected", FAILED: "tests FAILED"}.get(outcome.status, "tests passed")
    head = f"{name}: {outcome.coverage:.2f}%" if outcome.coverage is not None else f"{name}:"
    text = f"{head} ({what}, {outcome.seconds:.1f}s)"
    return text + ("\n" + indent(outcome.tail) if outcome.status == FAILED else "")


def describe_tests(outcome: CovOutcome) -> str:
    if outcome.status == NO_TESTS_DIR:
        return f"{outcome.manifest.name}: no tests/ folder (skipped)"
    text = f"{outcome.manifest.name}: tests {outcome.status} ({outcome.seconds:.1f}s)"
    return text + ("\n" + indent(outcome.tail) if outcome.status in (FAILED, ERROR) else "")


def measure_all(inv: Invocation, manifests: list[Manifest], jobs: int) -> list[CovOutcome]:
    return run_all(manifests, jobs, lambda m: measure(inv, m), describe)


def ledger_lines(inv: Invocation, outcomes: list[CovOutcome]) -> list[dict[str, Any]]:
    """One line per module measured now (cached, skipped and failed-to-run modules add none)."""
    return [{**inv.base_line(o.manifest), "coverage": o.coverage, "tests": o.status,
             "lane": o.manifest.lane, "target": o.manifest.coverage_target}
            for o in outcomes if o.coverage is not None and not o.cached_at]


def report_modules(inv: Invocation, outcomes: list[CovOutcome]) -> list[dict[str, Any]]:
    return [{"module": o.manifest.name, "path": o.manifest.label, "coverage": o.coverage,
             "tests": o.status, "cached": bool(o.cached_at), "tree": inv.tree(o.manifest),
             "lane": o.manifest.lane, "target": o.manifest.coverage_target}
            for o in outcomes]


def record_coverage(store: LogStore, inv: Invocation, outcomes: list[CovOutcome],
                    selection: str) -> str | None:
    """The ledger commit, or None when nothing new was measured."""
    lines = ledger_lines(inv, outcomes)
    if not lines:
        return None
    problems = coverage_problems([o.as_result() for o in outcomes])
    verdict = "FAIL" if problems else "PASS"
    report = {"kind": "coverage", "selection": selection, "problems": problems,
              "modules": report_modules(inv, outcomes)}
    summary = (f"{COVERAGE_RECORDED} {len(lines)} module{'s' if len(lines) != 1 else ''} {verdict}")
    return record(store, inv, category="coverage", ledger=layout.COVERAGE_LEDGER, event=COVERAGE_RECORDED,
                  lines=lines, report=report, verdict=verdict, summary=summary)


def manifest_updates(inv: Invocation,
                     outcomes: list[CovOutcome]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """(manifest, data with `testing.coverage_observed`/`observed_at`) of each measured module."""
    return ((o.manifest, with_observed_coverage(o.manifest.raw, o.coverage, o.cached_at or inv.ts))
            for o in outcomes if o.coverage is not None)



def run_coverage(ws: Workspace, manifests: list[Manifest], selection: str, *, jobs: int,
                 use_cache: bool, update: bool, gate: bool) -> int:
    """Measure, record, optionally write back and gate; the exit code."""
    if not manifests:
        print(f"No modules to measure ({selection}: none).")
        return 0
    interp = interpreter(ws)
    interp.require("pytest_cov")
    announce("Coverage", manifests, selection, interp)
    with open_ledger_log(ws) as store:
        inv = start(ws, interp, manifests, store, layout.COVERAGE_LEDGER, use_cache, "cov")
        outcomes = measure_all(inv, manifests, jobs)
        sha = record_coverage(store, inv, outcomes, selection)
    report_recorded(sha, len(ledger_lines(inv, outcomes)), "measurement", layout.COVERAGE_LEDGER,
                    store.ref)
    if update:
        write_back(ws, manifest_updates(inv, outcomes))
    results = [o.as_result() for o in outcomes]
    problems = coverage_problems(results)
    if gate:
        for line in problems:
            print(line)
        print(coverage_summary(results, problems))
        return 1 if problems else 0
    return 1 if any(o.status in (FAILED, ERROR) for o in outcomes) else 0


def run_tests(ws: Workspace, manifests: list[Manifest], selection: str, *, jobs: int) -> int:
    """The selected modules' tests, without coverage or ledger: exit 1 when any fails."""
    if not manifests:
        print(f"No modules to test ({selection}: none).")
        return 0
    interp = interpreter(ws)
    interp.require("pytest")
    print(f"Tests of {len(manifests)} module{'s' if len(manifests) != 1 else ''} ({selection}) "
          f"with {interp.path}", flush=True)
    inv = Invocation(ws, interp, {}, frozenset(), (), False, "tests", "")
    outcomes = run_all(manifests, jobs, lambda m: run_tests_only(inv, m), describe_tests)
    failed = [o.manifest.name for o in outcomes if o.status in (FAILED, ERROR)]
    print(f"Tests failed in {', '.join(failed)}" if failed else "Tests passed")
    return 1 if failed else 0
