"""Gate rules: observed coverage against lane targets, against its base (delta) and on the
changed lines (patch); observed p95 against the SLA. Pure."""
from __future__ import annotations

from dataclasses import dataclass

from testlog.core.patch import PatchCoverage

SHORT_SHA = 7
MAX_SPANS = 20           # uncovered `path:start-end` runs listed in one line


@dataclass(frozen=True)
class BaseCoverage:
    """The module's coverage at the base commit, or why there is none to compare with."""
    commit: str
    coverage: float | None     # None: no comparison (see `reason`)
    reason: str = ""           # "new module", or why the base could not be measured
    measured: bool = False     # measured now, on demand (not found in the ledger)

    @property
    def unmeasurable(self) -> bool:
        return self.coverage is None and self.reason != NEW_MODULE


NEW_MODULE = "new module"


@dataclass(frozen=True)
class CoverageResult:
    """One module's measurement as the gate sees it."""
    module: str
    lane: str
    target: float
    coverage: float | None     # None: not measured (skipped, or pytest could not run)
    tests: str                 # passed | failed | no-tests | no-tests-dir | error
    max_drop: float | None = None
    base: BaseCoverage | None = None
    patch_target: float | None = None
    patch: PatchCoverage | None = None


def number(value: float) -> str:
    """80.0 -> "80", 82.5 -> "82.5": targets as people write them."""
    return f"{value:g}"


def coverage_violation(result: CoverageResult) -> str | None:
    """`consciousness: 4.12% < target 80% (lane L2)`, or None when the module meets its target."""
    if result.coverage is None or result.coverage >= result.target:
        return None
    return (f"{result.module}: {result.coverage:.2f}% < target {number(result.target)}% "
            f"(lane {result.lane})")


def delta_points(result: CoverageResult) -> float | None:
    """This coverage minus the base's, in percentage points (None: nothing to compare)."""
    if result.coverage is None or result.base is None or result.base.coverage is None:
        return None
    return round(result.coverage - result.base.coverage, 2)


def delta_violation(result: CoverageResult) -> str | None:
    """`toolz: 93.74% (was 98.55% at 1a2b3c4, −4.81 points > max drop 0.5) (lane L3)`."""
    delta = delta_points(result)
    if delta is None or result.max_drop is None or -delta <= result.max_drop or \
            result.base is None or result.base.coverage is None:
        return None
    return (f"{result.module}: {result.coverage:.2f}% (was {result.base.coverage:.2f}% at "
            f"{result.base.commit[:SHORT_SHA]}, \u2212{-delta:.2f} points > max drop "
            f"{number(result.max_drop)}) (lane {result.lane})")


def spans_text(spans: tuple[str, ...]) -> str:
    shown = ", ".join(spans[:MAX_SPANS])
    return shown + (f" and {len(spans) - MAX_SPANS} more" if len(spans) > MAX_SPANS else "")


def patch_violation(result: CoverageResult) -> str | None:
    """`toolz: changed lines 25.00% covered (1 of 4) < patch target 85% (lane L3); not
    covered: toolz/new.py:1-12`."""
    patch, target = result.patch, result.patch_target
    if patch is None or target is None or patch.percent is None or patch.percent >= target:
        return None
    return (f"{result.module}: changed lines {patch.percent:.2f}% covered ({patch.covered} of "
            f"{patch.total}) < patch target {number(target)}% (lane {result.lane}); not "
            f"covered: {spans_text(patch.uncovered)}")


def coverage_notes(result: CoverageResult) -> list[str]:
    """What a reader needs to trust a pass: a base that could not be measured, a change with
    no executable lines, a new module."""
    notes = []
    base = result.base
    if result.coverage is not None and base is not None and result.max_drop is not None:
        if base.unmeasurable:
            notes.append(f"{result.module}: base {base.commit[:SHORT_SHA]} could not be "
                         f"measured ({base.reason}): judged on the absolute target only")
        elif base.reason == NEW_MODULE:
            notes.append(f"{result.module}: not in base {base.commit[:SHORT_SHA]} (a new "
                         "module): no coverage delta")
    patch = result.patch
    if result.coverage is not None and patch is not None and result.patch_target is not None \
            and patch.total == 0:
        notes.append(f"{result.module}: no executable lines changed: the changed-lines check "
                     "passes")
    return notes


def failure_line(result: CoverageResult) -> str | None:
    if result.tests == "failed":
        return f"{result.module}: tests failed"
    if result.tests == "error":
        return f"{result.module}: pytest could not run the tests"
    return None



def coverage_problems(results: list[CoverageResult]) -> list[str]:
    """Every violation and test failure, in module order."""
    lines = []
    for result in sorted(results, key=lambda r: r.module):
        checks = (coverage_violation(result), delta_violation(result), patch_violation(result),
                  failure_line(result))
        lines += [p for p in checks if p]
    return lines


def coverage_summary(results: list[CoverageResult], problems: list[str]) -> str:
    checked = sum(1 for r in results if r.coverage is not None)
    skipped = len(results) - checked
    verdict = f"failed ({len(problems)} problem{'s' if len(problems) != 1 else ''})" if problems \
        else "passed"
    extra = f", {skipped} skipped" if skipped else ""
    return f"Coverage gate {verdict}: {checked} module{'s' if checked != 1 else ''} checked{extra}"


@dataclass(frozen=True)
class LatencyResult:
    module: str
    benchmark: str
    p95_ms: float
    sla_ms: float | None


def slo_violation(result: LatencyResult) -> str | None:
    """`matriz: p95 2.45 ms > SLA 2 ms (test_lookup)`, or None within the SLA (or without one)."""
    if result.sla_ms is None or result.p95_ms <= result.sla_ms:
        return None
    return (f"{result.module}: p95 {result.p95_ms:.2f} ms > SLA {number(result.sla_ms)} ms "
            f"({result.benchmark})")


def slo_summary(results: list[LatencyResult], problems: list[str]) -> str:
    modules = len({r.module for r in results})
    verdict = f"failed ({len(problems)} violation{'s' if len(problems) != 1 else ''})" if problems \
        else "passed"
    return (f"SLO gate {verdict}: {len(results)} benchmark{'s' if len(results) != 1 else ''} "
            f"in {modules} module{'s' if modules != 1 else ''}")
