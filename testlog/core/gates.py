"""Gate rules: observed coverage against lane targets, observed p95 against the SLA. Pure."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CoverageResult:
    """One module's measurement as the gate sees it."""
    module: str
    lane: str
    target: float
    coverage: float | None     # None: not measured (skipped, or pytest could not run)
    tests: str                 # passed | failed | no-tests | no-tests-dir | error


def number(value: float) -> str:
    """80.0 -> "80", 82.5 -> "82.5": targets as people write them."""
    return f"{value:g}"


def coverage_violation(result: CoverageResult) -> str | None:
    """`consciousness: 4.12% < target 80% (lane L2)`, or None when the module meets its target."""
    if result.coverage is None or result.coverage >= result.target:
        return None
    return (f"{result.module}: {result.coverage:.2f}% < target {number(result.target)}% "
            f"(lane {result.lane})")


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
        lines += [p for p in (coverage_violation(result), failure_line(result)) if p]
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
