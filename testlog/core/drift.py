"""Durations judged against their own recorded variance. Pure.

A duration series (oldest first) drifts when its recent runs' median moved away from the
median of the runs before them by more than three robust standard deviations of those runs
(1.4826 × the median absolute deviation, which one slow outlier does not inflate) and by more
than a tenth of that median (a test steady to the microsecond is not "slower" by 2 µs).
"""
from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_SAMPLES = 8          # fewer: no judgement (a variance of three samples says nothing)
SIGMAS = 3.0
MIN_RELATIVE = 0.10
MAD_TO_SIGMA = 1.4826
FLOOR_MS = 0.001         # a spread measured as 0 (identical samples) counts as 1 µs


@dataclass(frozen=True)
class Spread:
    count: int
    median: float
    p25: float
    p75: float
    sigma: float            # robust: 1.4826 × MAD

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "median_ms": round(self.median, 6),
                "p25_ms": round(self.p25, 6), "p75_ms": round(self.p75, 6),
                "sigma_ms": round(self.sigma, 6)}


@dataclass(frozen=True)
class Drift:
    baseline: Spread
    recent_median: float
    window: int
    sigmas: float

    @property
    def direction(self) -> str:
        return "slower" if self.recent_median > self.baseline.median else "faster"

    def text(self) -> str:
        return (f"{self.direction}: the last {self.window} runs' median {self.recent_median:.3f} ms "
                f"against {self.baseline.median:.3f} ms before ({self.sigmas:+.1f}σ)")

    def as_dict(self) -> dict[str, Any]:
        return {"direction": self.direction, "window": self.window,
                "recent_median_ms": round(self.recent_median, 6),
                "baseline": self.baseline.as_dict(), "sigmas": round(self.sigmas, 3),
                "text": self.text()}


def quantile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def spread(values: Sequence[float]) -> Spread:
    ordered = sorted(values)
    median = quantile(ordered, 0.5)
    mad = statistics.median([abs(v - median) for v in ordered]) if ordered else 0.0
    return Spread(len(ordered), median, quantile(ordered, 0.25), quantile(ordered, 0.75),
                  MAD_TO_SIGMA * mad)


def window_of(count: int) -> int:
    """How many of the latest runs are "recent": a quarter, from 3 to 10."""
    return max(3, min(10, count // 4))


def drift(values: Sequence[float]) -> Drift | None:
    """The drift of the latest runs against the ones before, or None (steady, or too few)."""
    if len(values) < MIN_SAMPLES:
        return None
    window = window_of(len(values))
    baseline = spread(values[:-window])
    recent = quantile(sorted(values[-window:]), 0.5)
    sigma = max(baseline.sigma, FLOOR_MS)
    moved = recent - baseline.median
    if abs(moved) <= SIGMAS * sigma or abs(moved) <= MIN_RELATIVE * baseline.median:
        return None
    return Drift(baseline, recent, window, moved / sigma)


def beyond_variance(recorded: Sequence[float], a_ms: float, b_ms: float) -> bool | None:
    """Whether a change from a_ms to b_ms is beyond what the test's recorded durations vary
    by (the same rule as drift); None when too few are recorded to say."""
    if len(recorded) < MIN_SAMPLES:
        return None
    base = spread(recorded)
    moved = abs(b_ms - a_ms)
    return moved > SIGMAS * max(base.sigma, FLOOR_MS) and moved > MIN_RELATIVE * base.median
