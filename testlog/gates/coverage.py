"""Coverage of modules: measure each one (or take it from the ledger cache), with the line data
the changed-lines check needs."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

from testlog.core.ledger import cached_entries
from testlog.core.manifest import Manifest
from testlog.core.measures import coverage_percent
from testlog.core.modules import measured_exclusions, owns_source
from testlog.core.patch import FileLines, compact, expand, file_lines
from testlog.gates.childenv import child_env
from testlog.gates.invocation import Begin, Invocation, indent, read_report, scratch_for
from testlog.gates.pytest_run import (
    ERROR,
    FAILED,
    NO_TESTS,
    NO_TESTS_DIR,
    coverage_argv,
    run_pytest,
    tests_argv,
)

Lines = dict[str, FileLines]


@dataclass(frozen=True)
class CovOutcome:
    manifest: Manifest
    status: str                  # passed | failed | no-tests | no-tests-dir | error
    coverage: float | None
    seconds: float = 0.0
    tail: str = ""
    cached_at: str | None = None  # the ledger timestamp when taken from the cache
    lines: Lines | None = None    # (executed, executable) of each of the module's files
    skipped: str = ""             # why the module was not measured


def existing_tests(root: str, manifest: Manifest) -> list[str]:
    """The module's test paths that exist in the working tree at `root`."""
    return [t for t in manifest.tests if os.path.exists(os.path.join(root, t or "."))]


def skip_reason(manifest: Manifest) -> str:
    if not manifest.tests_declared:
        return f"no {os.path.basename(manifest.tests[0]) or 'tests'}/ folder"
    return f"none of testing.tests exists ({', '.join(manifest.tests)})"


def module_lines(inv: Invocation, manifest: Manifest, report: dict[str, Any]) -> Lines:
    """(executed, executable) lines of the module's own files in coverage.py's JSON report."""
    excluded = measured_exclusions(manifest, inv.ws.all_roots)
    return {path.replace("\\", "/"): file_lines(entry)
            for path, entry in report.get("files", {}).items()
            if owns_source(manifest, excluded, path.replace("\\", "/"))}


def stored_lines(lines: Lines) -> dict[str, dict[str, str]]:
    """Line data as a report keeps it: compact ranges."""
    return {path: {"executed": compact(executed), "executable": compact(executable)}
            for path, (executed, executable) in sorted(lines.items())}


def lines_from_report(data: bytes | None, label: str) -> Lines | None:
    """A module's line data from a stored report (read from the log branch: checked)."""
    try:
        report = json.loads(data) if data else None
        for entry in report["modules"] if isinstance(report, dict) else []:
            if isinstance(entry, dict) and entry.get("path") == label and entry.get("lines"):
                return {str(path): (expand(item["executed"]), expand(item["executable"]))
                        for path, item in entry["lines"].items()}
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def from_cache(inv: Invocation, manifest: Manifest, need_lines: bool) -> CovOutcome | None:
    if not inv.use_cache or inv.is_dirty(manifest):
        return None
    hits = cached_entries(list(inv.entries), manifest.label, inv.tree(manifest),
                          inv.interp.fingerprint, inv.inputs(manifest))
    if not hits:
        return None
    entry = hits[-1]
    lines = lines_from_report(read_report(inv.ws, entry.get("report", "")), manifest.label) \
        if need_lines else None
    if need_lines and lines is None:
        return None           # measured before line data was kept: measure again
    return CovOutcome(manifest, entry["tests"], entry["coverage"], cached_at=entry["ts"],
                      lines=lines)


def measure(inv: Invocation, manifest: Manifest, begin: Begin, need_lines: bool) -> CovOutcome:
    tests = existing_tests(inv.ws.root, manifest)
    if not tests:
        return CovOutcome(manifest, NO_TESTS_DIR, None, skipped=skip_reason(manifest))
    cached = from_cache(inv, manifest, need_lines)
    if cached:
        return cached
    return measure_at(inv, manifest, begin, inv.ws.root, tests)


def measure_at(inv: Invocation, manifest: Manifest, begin: Begin, where: str,
               tests: list[str], kind: str = "",
               what: str = "running its tests under coverage") -> CovOutcome:
    """Run the module's tests under coverage of its sources, in the tree at `where`."""
    begin(what)
    scratch = scratch_for(inv, manifest, kind)
    report = os.path.join(scratch, "coverage.json")
    argv = coverage_argv(inv.interp.path, manifest.sources, tests, report,
                         "pytest_benchmark" in inv.interp.plugins, scratch)
    run = run_pytest(argv, where, child_env(scratch), report, inv.ws.starter)
    coverage, lines = None, None
    if run.status == NO_TESTS:
        coverage = 0.0
    elif run.report is not None:
        excluded = measured_exclusions(manifest, inv.ws.all_roots)
        coverage = coverage_percent(run.report, manifest.sources, excluded)
        lines = module_lines(inv, manifest, run.report)
    return CovOutcome(manifest, run.status, coverage, run.seconds, run.tail, lines=lines)


def run_tests_only(inv: Invocation, manifest: Manifest, begin: Begin) -> CovOutcome:
    """The module's tests without coverage (the pre-commit stage): pass or fail, nothing else."""
    tests = existing_tests(inv.ws.root, manifest)
    if not tests:
        return CovOutcome(manifest, NO_TESTS_DIR, None, skipped=skip_reason(manifest))
    begin("running its tests")
    scratch = scratch_for(inv, manifest)
    argv = tests_argv(inv.interp.path, tests, "pytest_benchmark" in inv.interp.plugins, scratch)
    run = run_pytest(argv, inv.ws.root, child_env(scratch), None, inv.ws.starter)
    return CovOutcome(manifest, run.status, None, run.seconds, run.tail)


def describe(outcome: CovOutcome) -> str:
    name = outcome.manifest.name
    if outcome.status == NO_TESTS_DIR:
        return f"{name}: {outcome.skipped} (skipped)"
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
        return f"{outcome.manifest.name}: {outcome.skipped} (skipped)"
    text = f"{outcome.manifest.name}: tests {outcome.status} ({outcome.seconds:.1f}s)"
    return text + ("\n" + indent(outcome.tail) if outcome.status in (FAILED, ERROR) else "")
