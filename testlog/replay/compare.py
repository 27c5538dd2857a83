"""Two recorded runs side by side, without re-executing: the tests whose status, result hash,
RNG after-state or timing changed, and the tests only one run has. Pure."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from testlog.replay.environment import field_differences
from testlog.replay.outputs import compare_outputs, max_delta

TIMING_FACTOR = 2.0          # slower or faster by at least this factor …
TIMING_FLOOR_MS = 1.0        # … and by at least this much: a timing change
KINDS = ("status", "result", "rng", "timing")


@dataclass(frozen=True)
class TestChange:
    test_name: str
    kinds: tuple[str, ...]
    details: tuple[str, ...]


@dataclass(frozen=True)
class RunComparison:
    changes: tuple[TestChange, ...]
    only_a: tuple[str, ...]
    only_b: tuple[str, ...]
    common: int
    notes: tuple[str, ...]

    @property
    def results_differ(self) -> bool:
        """Anything but timing changed (what `--exit-code` reports)."""
        return bool(self.only_a or self.only_b
                    or any(set(c.kinds) - {"timing"} for c in self.changes))

    def as_dict(self) -> dict[str, Any]:
        return {"common": self.common, "only_a": list(self.only_a), "only_b": list(self.only_b),
                "notes": list(self.notes), "results_differ": self.results_differ,
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


def test_change(a: dict[str, Any], b: dict[str, Any], factor: float,
                floor_ms: float) -> TestChange | None:
    kinds, details = [], []
    if a["status"] != b["status"]:
        kinds.append("status")
        details.append(f"status {a['status']} → {b['status']}")
    if (a.get("outputs") or {}).get("result_hash") != (b.get("outputs") or {}).get("result_hash"):
        kinds.append("result")
        details.append(_result_detail(a.get("outputs") or {}, b.get("outputs") or {}))
    before, after = a.get("rng_state_after") or {}, b.get("rng_state_after") or {}
    rngs = sorted(n for n in before.keys() & after.keys() if before[n] != after[n])
    if rngs:
        kinds.append("rng")
        details.append("RNG after-state changed: " + ", ".join(rngs))
    a_ms, b_ms = float(a.get("duration_ms") or 0), float(b.get("duration_ms") or 0)
    if timing_changed(a_ms, b_ms, factor, floor_ms):
        kinds.append("timing")
        ratio = f" (×{b_ms / a_ms:.2f})" if a_ms > 0 else ""
        details.append(f"timing {a_ms:.3f} ms → {b_ms:.3f} ms{ratio}")
    return TestChange(a["test_name"], tuple(kinds), tuple(details)) if kinds else None


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
                 floor_ms: float = TIMING_FLOOR_MS) -> RunComparison:
    by_a = {r["test_name"]: r for r in records_a}
    by_b = {r["test_name"]: r for r in records_b}
    common = sorted(by_a.keys() & by_b.keys())
    changes = [c for c in (test_change(by_a[n], by_b[n], factor, floor_ms) for n in common) if c]
    return RunComparison(tuple(changes), tuple(sorted(by_a.keys() - by_b.keys())),
                         tuple(sorted(by_b.keys() - by_a.keys())), len(common),
                         tuple(run_notes(run_a, run_b)))


def render_lines(label_a: str, label_b: str, result: RunComparison) -> list[str]:
    lines = [f"compare {label_a} → {label_b}: {result.common} tests in both, "
             f"{len(result.changes)} changed, {len(result.only_a)} only in {label_a}, "
             f"{len(result.only_b)} only in {label_b}"]
    lines += [f"  note: {n}" for n in result.notes]
    for change in result.changes:
        lines.append(f"  {','.join(change.kinds):<14} {change.test_name}: {'; '.join(change.details)}")
    lines += [f"  only in {label_a}: {n}" for n in result.only_a]
    lines += [f"  only in {label_b}: {n}" for n in result.only_b]
    if not (result.changes or result.only_a or result.only_b):
        lines.append("  no test changed")
    return lines
