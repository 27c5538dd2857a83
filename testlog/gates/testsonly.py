"""The pre-commit stage: the tests of the modules the staged files touch, without coverage and
without a ledger (fast enough to run on every commit)."""
from __future__ import annotations

from testlog.core.manifest import Manifest
from testlog.gates.coverage import describe_tests, run_tests_only
from testlog.gates.invocation import Invocation, run_all
from testlog.gates.outcome import GateOutcome
from testlog.gates.pytest_run import ERROR, FAILED, NO_TESTS_DIR
from testlog.gates.workspace import Workspace, interpreter


def run_tests(ws: Workspace, manifests: list[Manifest], selection: str, *,
              jobs: int) -> GateOutcome:
    """The selected modules' tests: exit 1 when any fails."""
    if not manifests:
        return GateOutcome("tests", selection, "pass", 0,
                           summary=f"No module owns a changed file ({selection}): no tests to run")
    interp = interpreter(ws)
    interp.require("pytest")
    print(f"Tests of {len(manifests)} module{'s' if len(manifests) != 1 else ''} ({selection}) "
          f"with {interp.path}", flush=True)
    inv = Invocation(ws, interp, {}, frozenset(), (), False, "tests", "")
    outcomes = run_all(manifests, jobs, lambda m, begin: run_tests_only(inv, m, begin),
                       describe_tests)
    failed = [o.manifest.name for o in outcomes if o.status in (FAILED, ERROR)]
    ran = [o for o in outcomes if o.status != NO_TESTS_DIR]
    summary = f"Tests failed in {', '.join(failed)}" if failed else \
        (f"Tests passed ({len(ran)} module{'s' if len(ran) != 1 else ''})" if ran
         else "No tests to run (every module touched has none)")
    modules = [{"module": o.manifest.name, "path": o.manifest.label, "status": o.status,
                "skipped": o.skipped or None, "seconds": round(o.seconds, 3)} for o in outcomes]
    return GateOutcome("tests", selection, "fail" if failed else "pass", 1 if failed else 0,
                       [f"{name}: tests failed" for name in failed], [], summary, modules,
                       interp, None)
