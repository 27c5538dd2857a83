"""Two recorded runs side by side, without re-executing: the tests whose status, output (result
hash, captured output), RNG after-state or timing changed, and the tests only one run has. Pure.

Signal is told from noise: RNG after-states that differ because the two runs gave the test
different seeds (another base seed) are counted, never listed; a duration is a change only
beyond what that test's recorded durations vary by (core/drift.py; the factor rule when too
few are recorded). `results_differ` (what `--exit-code` reports) is a status or output change,
or a test only one run has; `strict_differ` (`--strict`) is any difference at all."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from testlog.core.drift import beyond_variance, spread
from testlog.replay.environment import field_differences
from testlog.replay.outputs import compare_outputs, max_delta

TIMING_FACTOR = 2.0          # slower or faster by at least this factor …
TIMING_FLOOR_MS = 1.0        # … and by at least this much: a timing change
KINDS = ("status", "output", "rng", "timing")
SIGNAL = frozenset({"status", "output"})


@dataclass(frozen=True)
class TestChange:
    test_name: str
    kinds: tuple[str, ...]
    details: tuple[str, ...]
    detail_kinds: tuple[str, ...] = ()      # the kind each detail is of (output may have two)

    def details_of(self, kind: str) -> list[str]:
        return [d for k, d in zip(self.detail_kinds, self.details) if k == kind]


@dataclass(frozen=True)
class RunComparison:
    changes: tuple[TestChange, ...]          # what is listed: every change but expected RNG ones
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    common: int
    notes: tuple[str, ...]
    rng_expected: tuple[str, ...] = ()       # RNG after-states that differ with the seed
    timing_by_factor: int = 0                # timing changes judged without recorded variance

    def group(self, kind: str) -> list[TestChange]:
        return [c for c in self.changes if kind in c.kinds]

    @property
    def headline(self) -> dict[str, int]:
        return {"status": len(self.group("status")), "output": len(self.group("output")),
                "rng": len(self.group("rng")) + len(self.rng_expected),
                "rng_expected": len(self.rng_expected), "timing": len(self.group("timing")),
                "timing_by_factor": self.timing_by_factor, "only_a": len(self.only_a),
                "only_b": len(self.only_b)}

    @property
    def results_differ(self) -> bool:
        """A status or output changed, or a test is in one run only (what `--exit-code`
        reports)."""
        return bool(self.only_a or self.only_b
                    or any(SIGNAL & set(c.kinds) for c in self.changes))

    @property
    def strict_differ(self) -> bool:
        """Anything differs, expected RNG states and timing included (`--strict`)."""
        return self.results_differ or bool(self.changes or self.rng_expected)

    def as_dict(self) -> dict[str, Any]:
        return {"common": self.common, "only_a": list(self.only_a), "only_b": list(self.only_b),
                "notes": list(self.notes), "results_differ": self.results_differ,
                "strict_differ": self.strict_differ, "headline": self.headline,
                "groups": {kind: [c.test_name for c in self.group(kind)] for kind in KINDS},
                "changes": [{"test_name": c.test_name, "kinds": list(c.kinds),
                             "details": list(c.details)} for c in self.changes]}


def _result_detail(a: dict[str, Any], b: dict[str, Any]) -> str:
    diffs = compare_outputs(a.get("values") or {}, b.get("values") or {})
    delta = max_delta(diffs)
    names = ", ".join(d.name for d in diffs) or "result"
    return f"result hash changed ({names}{f'; max Δ {delta:.3g}' if delta is not None else ''})"


def timing_changed(a_ms: float, b_ms: float, factor: float, floor_ms: float) -> bool:
    low, high = sorted((a_ms, b_ms))
    return high - low >= floor_ms and (low <= 0 or high / low >= factor)


def _captured_detail(a: dict[str, Any], b: dict[str, Any]) -> str | None:
    ca, cb = a.get("captured") or {}, b.get("captured") or {}
    if not isinstance(ca, dict) or not isinstance(cb, dict) or ca == cb:
        return None
    keys = sorted(k for k in ca.keys() | cb.keys() if ca.get(k) != cb.get(k))
    return "captured output changed: " + ", ".join(str(k).replace("/", " ") for k in keys)


@dataclass(frozen=True)
class TestDiff:
    """What differs for one test: the change to list (or None), and whether its RNG
    after-states differ only as its seeds do (counted, not listed)."""
    change: TestChange | None
    rng_expected: bool = False
    timing_by_factor: bool = False


def test_change(a: dict[str, Any], b: dict[str, Any], factor: float, floor_ms: float,
                recorded_ms: Sequence[float] = ()) -> TestDiff:
    found: list[tuple[str, str]] = []          # (kind, detail)
    if a["status"] != b["status"]:
        found.append(("status", f"status {a['status']} → {b['status']}"))
    out_a, out_b = a.get("outputs") or {}, b.get("outputs") or {}
    if out_a.get("result_hash") != out_b.get("result_hash"):
        found.append(("output", _result_detail(out_a, out_b)))
    captured = _captured_detail(out_a, out_b)
    if captured:
        found.append(("output", captured))
    before, after = a.get("rng_state_after") or {}, b.get("rng_state_after") or {}
    rngs = sorted(n for n in before.keys() & after.keys() if before[n] != after[n])
    expected = bool(rngs) and a.get("seed") != b.get("seed")
    if rngs and not expected:
        found.append(("rng", "RNG after-state changed under the same seed: " + ", ".join(rngs)))
    a_ms, b_ms = float(a.get("duration_ms") or 0), float(b.get("duration_ms") or 0)
    beyond = beyond_variance(recorded_ms, a_ms, b_ms)
    if beyond if beyond is not None else timing_changed(a_ms, b_ms, factor, floor_ms):
        found.append(("timing", _timing_detail(a_ms, b_ms,
                                               recorded_ms if beyond is not None else ())))
    if not found:
        return TestDiff(None, expected)
    kinds = tuple(dict.fromkeys(kind for kind, _ in found))
    change = TestChange(a["test_name"], kinds, tuple(d for _, d in found),
                        tuple(k for k, _ in found))
    return TestDiff(change, expected, "timing" in kinds and beyond is None)


def _timing_detail(a_ms: float, b_ms: float, recorded: Sequence[float]) -> str:
    ratio = f" (×{b_ms / a_ms:.2f})" if a_ms > 0 else ""
    if not recorded:
        return f"timing {a_ms:.3f} ms → {b_ms:.3f} ms{ratio}"
    base = spread(recorded)
    return (f"timing {a_ms:.3f} ms → {b_ms:.3f} ms{ratio}, beyond its recorded variance "
            f"(median {base.median:.3f} ms, σ {base.sigma:.3f} ms over {base.count} runs)")


def run_notes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    notes = []
    if a.get("base_seed") != b.get("base_seed"):
        notes.append(f"base seeds differ ({a.get('base_seed')} → {b.get('base_seed')}): "
                     "RNG states and random outputs are expected to differ")
    sa, sb = a.get("source") or {}, b.get("source") or {}
    if (sa.get("tree"), sa.get("dirty")) != (sb.get("tree"), sb.get("dirty")):
        notes.append(f"source differs: tree {str(sa.get('tree'))[:12]}{' dirty' if sa.get('dirty') else ''}"
                     f" → {str(sb.get('tree'))[:12]}{' dirty' if sb.get('dirty') else ''}")
    if a.get("pythonhashseed") != b.get("pythonhashseed"):
        notes.append(f"PYTHONHASHSEED {a.get('pythonhashseed') or 'unset'} → "
                     f"{b.get('pythonhashseed') or 'unset'}")
    if a.get("reseed", True) != b.get("reseed", True):
        notes.append("reseeding before each test was on in one run and off in the other")
    notes += [f"environment: {d.text()}" for d in
              field_differences(a.get("environment") or {}, b.get("environment") or {})]
    return notes


def compare_runs(run_a: dict[str, Any], records_a: list[dict[str, Any]], run_b: dict[str, Any],
                 records_b: list[dict[str, Any]], *, factor: float = TIMING_FACTOR,
                 floor_ms: float = TIMING_FLOOR_MS,
                 recorded_ms: Mapping[str, Sequence[float]] | None = None) -> RunComparison:
    """`recorded_ms`: each test's recorded durations (of runs like these two), the variance a
    timing change is judged against."""
    by_a = {r["test_name"]: r for r in records_a}
    by_b = {r["test_name"]: r for r in records_b}
    common = sorted(by_a.keys() & by_b.keys())
    diffs = [test_change(by_a[n], by_b[n], factor, floor_ms, (recorded_ms or {}).get(n, ()))
             for n in common]
    return RunComparison(tuple(d.change for d in diffs if d.change),
                         tuple(sorted(by_a.keys() - by_b.keys())),
                         tuple(sorted(by_b.keys() - by_a.keys())), len(common),
                         tuple(run_notes(run_a, run_b)),
                         tuple(n for n, d in zip(common, diffs) if d.rng_expected),
                         sum(1 for d in diffs if d.timing_by_factor))


GROUP_TITLES = {"status": "status changes", "output": "output changes",
                "rng": "RNG after-states changed under the same seed",
                "timing": "timing changes"}


def headline_line(result: RunComparison) -> str:
    h = result.headline
    rng = f"{h['rng']} RNG"
    if h["rng_expected"]:
        rng += f" ({h['rng_expected']} expected: the seeds differ; counted, not listed)"
    timing = f"{h['timing']} timing"
    by_variance = h["timing"] - h["timing_by_factor"]
    if h["timing"]:
        timing += " (" + ", ".join(part for part in (
            f"{by_variance} beyond the recorded variance" if by_variance else "",
            f"{h['timing_by_factor']} by the factor rule: too few runs recorded"
            if h["timing_by_factor"] else "") if part) + ")"
    return f"  {h['status']} status, {h['output']} output, {rng}, {timing}"


def render_lines(label_a: str, label_b: str, result: RunComparison) -> list[str]:
    lines = [f"compare {label_a} → {label_b}: {result.common} tests in both, "
             f"{len(result.changes)} changed, {len(result.only_a)} only in {label_a}, "
             f"{len(result.only_b)} only in {label_b}", headline_line(result)]
    lines += [f"  note: {n}" for n in result.notes]
    for kind in KINDS:
        group = result.group(kind)
        if group:
            lines.append(f"  {GROUP_TITLES[kind]} ({len(group)}):")
            for change in group:
                lines.append(f"    {change.test_name}: {'; '.join(change.details_of(kind))}")
    lines += [f"  only in {label_a}: {n}" for n in result.only_a]
    lines += [f"  only in {label_b}: {n}" for n in result.only_b]
    if not (result.changes or result.only_a or result.only_b):
        lines.append("  no test changed")
    return lines

