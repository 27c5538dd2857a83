"""`cov` and the coverage gate: measure the modules while git is asked, on threads, what the
judging needs; then judge (gates.covjudge), record one ledger commit, and say it all."""
from __future__ import annotations

from testlog.core import layout
from testlog.core.manifest import Manifest
from testlog.gates.coverage import describe, measure
from testlog.gates.covrequest import CoverageRequest, empty_outcome, needs_lines, prefetch
from testlog.gates.invocation import announce, close_store, run_all, start, store_later
from testlog.gates.later import warm_imports
from testlog.gates.outcome import GateOutcome
from testlog.gates.workspace import Workspace, interpreter

# What judging needs, imported on a thread while the tests run.
JUDGING = ("testlog.gates.covjudge", "testlog.store.events")
__all__ = ["CoverageRequest", "run_coverage"]


def run_coverage(ws: Workspace, manifests: list[Manifest], req: CoverageRequest) -> GateOutcome:
    """Measure, judge, record, optionally write back; what happened (printed as it goes)."""
    if not manifests:
        why = "no module owns a changed file" if req.from_change else \
            "no modules here (a module is a folder with module.manifest.json)"
        return empty_outcome(req, f"{req.selection}: {why}", req.from_change)
    interp = interpreter(ws)
    interp.require("pytest_cov")
    announce("Coverage", manifests, req.selection, interp)
    store = store_later(ws)
    warm_imports(JUDGING)
    try:
        inv = start(ws, interp, manifests, layout.COVERAGE, req.use_cache, "cov",
                    "coverage")
        ahead = prefetch(inv, req, manifests)
        outcomes = run_all(manifests, req.jobs,
                           lambda m, begin: measure(inv, m, begin, needs_lines(req, m)), describe)
        from testlog.gates.covjudge import judge_and_record  # loaded meanwhile
        return judge_and_record(ws, req, inv, outcomes, ahead, store)
    finally:
        close_store(store)
