"""Judging a coverage gate's measurements: each module's base (the ledger, else measured now),
its changed lines, the verdicts, the ledger commit and the outcome. Loaded while the tests run."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gitstore import full_ref

from testlog.core import layout
from testlog.core.chronicle import COVERAGE_RECORDED
from testlog.core.gates import (
    BaseCoverage,
    CoverageResult,
    coverage_notes,
    coverage_problems,
    coverage_summary,
)
from testlog.core.manifest import Manifest, with_observed_coverage
from testlog.core.modules import measured_exclusions, owns_source
from testlog.core.patch import PatchCoverage, patch_coverage
from testlog.gates.basecov import BaseMeasurer
from testlog.gates.checkouts import Checkouts
from testlog.gates.coverage import CovOutcome, stored_lines
from testlog.gates.covrequest import (
    CoverageRequest,
    Prefetched,
    changed_lines,
    empty_outcome,
    gate_range,
)
from testlog.gates.gaterange import GateRange
from testlog.gates.invocation import (
    Begin,
    Invocation,
    record,
    report_recorded,
    run_all,
    write_back,
)
from testlog.gates.later import Later
from testlog.gates.outcome import GateOutcome
from testlog.gates.pytest_run import ERROR, FAILED
from testlog.gates.workspace import Workspace

if TYPE_CHECKING:
    from gitstore import LogStore

@dataclass
class Judged:
    """What the gate found beyond the measurements: each module's base and changed lines."""
    bases: dict[str, BaseCoverage] = field(default_factory=dict)
    patches: dict[str, PatchCoverage] = field(default_factory=dict)
    base_lines: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def find_bases(inv: Invocation, req: CoverageRequest, outcomes: list[CovOutcome],
               ahead: Prefetched) -> Judged:
    """The base of each measured module with a max_drop (measured now where the ledger has
    none), and its changed-lines coverage where it has a patch_target."""
    wanted = [(o, r) for o in outcomes if o.coverage is not None
              and (r := gate_range(req, o.manifest)) is not None]
    judged = Judged()
    judged.bases, judged.base_lines = base_coverages(inv, wanted, ahead)
    judged.patches, judged.notes = patch_coverages(inv, wanted, ahead)
    return judged


def base_coverages(inv: Invocation, wanted: list[tuple[CovOutcome, GateRange]], ahead: Prefetched
                   ) -> tuple[dict[str, BaseCoverage], list[dict[str, Any]]]:
    measurer = BaseMeasurer(inv, Checkouts(inv.ws))
    todo = {o.manifest.root: (o, r.base) for o, r in wanted
            if o.manifest.max_drop is not None and r.base}

    def one(manifest: Manifest, begin: Begin) -> tuple[str, BaseCoverage]:
        outcome, commit = todo[manifest.root]
        return manifest.name, measurer.find(manifest, commit or "", outcome, begin,
                                            ahead.identities.get(manifest.root))

    found = run_all([o.manifest for o, _ in todo.values()], 1, one, describe_base) if todo else []
    return {root: base for root, (_, base) in zip(todo, found)}, measurer.lines


def owner(manifest: Manifest, excluded: list[str]) -> Callable[[str], bool]:
    return lambda path: owns_source(manifest, excluded, path)


def patch_coverages(inv: Invocation, wanted: list[tuple[CovOutcome, GateRange]],
                    ahead: Prefetched) -> tuple[dict[str, PatchCoverage], list[str]]:
    """Changed-lines coverage of each module with a patch_target (one diff per range start),
    and a note for each module whose changed lines could not be read."""
    diffs: dict[str, dict[str, list[int]] | str] = {}
    patches, notes = {}, []
    for outcome, found in wanted:
        m = outcome.manifest
        if m.patch_target is None or found.start is None or outcome.lines is None:
            continue
        if found.start not in diffs:
            early = ahead.diffs.get(found.start)
            diffs[found.start] = early.result() if early else changed_lines(inv.ws.root,
                                                                            found.start)
        diff = diffs[found.start]
        if isinstance(diff, str):
            notes.append(f"{m.name}: the changed lines since {found.start[:7]} cannot be read "
                         f"({diff}): the changed-lines check is skipped")
            continue
        patches[m.root] = patch_coverage(diff, outcome.lines,
                                         owner(m, measured_exclusions(m, inv.ws.all_roots)))
    return patches, notes


def describe_base(named: tuple[str, BaseCoverage]) -> str:
    name, base = named
    where = f"{name} at base {base.commit[:7]}"
    if base.coverage is None:
        return f"{where}: {base.reason}"
    how = "measured now" if base.measured else "from the ledger"
    return f"{where}: {base.coverage:.2f}% ({how})"


def as_result(outcome: CovOutcome, judged: Judged) -> CoverageResult:
    m = outcome.manifest
    return CoverageResult(m.name, m.lane, m.coverage_target, outcome.coverage, outcome.status,
                          max_drop=m.max_drop, base=judged.bases.get(m.root),
                          patch_target=m.patch_target, patch=judged.patches.get(m.root))


def ledger_lines(inv: Invocation, outcomes: list[CovOutcome]) -> list[dict[str, Any]]:
    """One line per module measured now (cached, skipped and failed-to-run modules add none)."""
    return [{**inv.base_line(o.manifest), "coverage": o.coverage, "tests": o.status,
             "lane": o.manifest.lane, "target": o.manifest.coverage_target}
            for o in outcomes if o.coverage is not None and not o.cached_at]


def module_entry(inv: Invocation, outcome: CovOutcome, result: CoverageResult) -> dict[str, Any]:
    """One module in the report on the log branch and in `--json` (docs/gates.md)."""
    m = outcome.manifest
    base, patch = result.base, result.patch
    return {
        "module": m.name, "path": m.label, "lane": m.lane, "status": outcome.status,
        "coverage": outcome.coverage, "cached": bool(outcome.cached_at),
        "skipped": outcome.skipped or None, "seconds": round(outcome.seconds, 3),
        "tree": inv.tree(m), "target": m.coverage_target,
        "delta": None if base is None or result.max_drop is None else {
            "base_commit": base.commit, "base_coverage": base.coverage,
            "points": None if base.coverage is None or outcome.coverage is None
            else round(outcome.coverage - base.coverage, 2),
            "max_drop": result.max_drop, "measured_now": base.measured,
            "reason": base.reason or None},
        "patch": None if patch is None else {
            "target": result.patch_target, "covered": patch.covered, "total": patch.total,
            "percent": patch.percent, "uncovered": list(patch.uncovered)},
        "problems": coverage_problems([result]),
    }


def record_coverage(store: Later[LogStore], inv: Invocation, outcomes: list[CovOutcome],
                    judged: Judged, modules: list[dict[str, Any]], problems: list[str],
                    selection: str) -> str | None:
    """The ledger commit (measurements and bases measured now), or None when nothing was."""
    lines = ledger_lines(inv, outcomes) + judged.base_lines
    if not lines:
        return None
    verdict = "FAIL" if problems else "PASS"
    stored = [{**entry, "lines": stored_lines(o.lines)}
              if o.lines is not None and not o.cached_at else entry
              for o, entry in zip(outcomes, modules)]
    report = {"kind": "coverage", "selection": selection, "problems": problems, "modules": stored}
    summary = f"{COVERAGE_RECORDED} {len(lines)} module{'s' if len(lines) != 1 else ''} {verdict}"
    return record(store.result(), inv, ledger=layout.COVERAGE, event=COVERAGE_RECORDED,
                  lines=lines, report=report, verdict=verdict, summary=summary)


def manifest_updates(inv: Invocation,
                     outcomes: list[CovOutcome]) -> Iterator[tuple[Manifest, dict[str, Any]]]:
    """(manifest, data with `testing.coverage_observed`/`observed_at`) of each measured module."""
    return ((o.manifest, with_observed_coverage(o.manifest.raw, o.coverage, o.cached_at or inv.ts))
            for o in outcomes if o.coverage is not None)


def coverage_outcome(req: CoverageRequest, inv: Invocation, outcomes: list[CovOutcome],
                     results: list[CoverageResult], modules: list[dict[str, Any]],
                     problems: list[str], sha: str | None, more: list[str]) -> GateOutcome:
    notes = [n for r in sorted(results, key=lambda r: r.module) for n in coverage_notes(r)]
    notes += more
    if req.gate and req.range_note and any(m.max_drop is not None or m.patch_target is not None
                                           for m in (o.manifest for o in outcomes)):
        notes.insert(0, req.range_note)
    checked = [o for o in outcomes if o.coverage is not None]
    if req.gate and not checked and not problems:
        skipped = "; ".join(f"{o.manifest.name}: {o.skipped or o.status}" for o in outcomes)
        out = empty_outcome(req, f"every selected module was skipped ({skipped})", False)
        return out.with_modules(modules, inv, sha)
    failed_run = any(o.status in (FAILED, ERROR) for o in outcomes)
    summary = coverage_summary(results, problems) if req.gate else ""
    status = (1 if problems else 0) if req.gate else (1 if failed_run else 0)
    return GateOutcome(
        check="coverage", selection=req.selection, verdict="fail" if status else "pass",
        exit_status=status, problems=problems if req.gate else [], notes=notes,
        summary=summary, modules=modules, interpreter=inv.interp, ledger_commit=sha,
        gate=req.gate)


def judge_and_record(ws: Workspace, req: CoverageRequest, inv: Invocation,
                     outcomes: list[CovOutcome], ahead: Prefetched,
                     store: Later[LogStore]) -> GateOutcome:
    """Bases, changed lines and verdicts of the measured modules; the ledger commit; the
    manifests written back when asked; the outcome."""
    judged = find_bases(inv, req, outcomes, ahead) if req.gate else Judged()
    results = [as_result(o, judged) for o in outcomes]
    problems = coverage_problems(results)
    modules = [module_entry(inv, o, r) for o, r in zip(outcomes, results)]
    sha = record_coverage(store, inv, outcomes, judged, modules, problems, req.selection)
    report_recorded(sha, len(ledger_lines(inv, outcomes)) + len(judged.base_lines),
                    "measurement", inv.ledger_file(layout.COVERAGE),
                    full_ref(ws.settings["branch"].value))
    if req.update:
        write_back(ws, manifest_updates(inv, outcomes))
    return coverage_outcome(req, inv, outcomes, results, modules, problems, sha, judged.notes)
