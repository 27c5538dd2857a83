"""Benchmark baselines: is a benchmark slower than at its base, beyond the noise? Pure.

One number against one number moves with the machine's load. So the p95 ratio only raises the
question; the two distributions of per-round times answer it (a one-sided Mann-Whitney U test:
are this run's rounds systematically slower than the base's?). A measurement whose own spread
is too wide (p95 several times p50: a loaded machine) cannot answer it at all.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from testlog.core.measures import percentile

SPREAD_LIMIT = 3.0       # p95 / p50 above this: too noisy to judge
SIGNIFICANCE = 0.01      # one-sided p-value below which "slower" is not noise
KEPT_SAMPLES = 200       # per-round samples kept per benchmark (evenly spaced quantiles)

PASS, REGRESSION, WITHIN_NOISE, NOISY = "pass", "regression", "within-noise", "noisy"


def spread(samples: list[float]) -> float:
    """p95 / p50 of the samples (1.0 for an empty or all-zero set)."""
    ordered = sorted(samples)
    if not ordered:
        return 1.0
    p50 = percentile(ordered, 50)
    return percentile(ordered, 95) / p50 if p50 > 0 else 1.0


def too_noisy(samples: list[float]) -> bool:
    return spread(samples) > SPREAD_LIMIT


def kept_samples(samples: list[float]) -> list[float]:
    """At most KEPT_SAMPLES values, sorted: evenly spaced quantiles of the samples, so that a
    base stored in a report keeps its distribution's shape at a bounded size."""
    ordered = sorted(samples)
    if len(ordered) <= KEPT_SAMPLES:
        return [round(x, 6) for x in ordered]
    step = (len(ordered) - 1) / (KEPT_SAMPLES - 1)
    return [round(percentile(ordered, 100.0 * i * step / (len(ordered) - 1)), 6)
            for i in range(KEPT_SAMPLES)]


def slower_p_value(new: list[float], base: list[float]) -> float:
    """One-sided p-value of the Mann-Whitney U test that `new` is stochastically greater than
    `base` (normal approximation with a tie correction and continuity correction)."""
    n1, n2 = len(new), len(base)
    if not n1 or not n2:
        return 1.0
    ranked = sorted([(x, 0) for x in new] + [(x, 1) for x in base])
    ranks = [0.0] * len(ranked)
    ties = 0.0
    i = 0
    while i < len(ranked):
        j = i
        while j + 1 < len(ranked) and ranked[j + 1][0] == ranked[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        size = j - i + 1
        ties += size ** 3 - size
        i = j + 1
    rank_new = sum(r for r, (_, group) in zip(ranks, ranked) if group == 0)
    u = rank_new - n1 * (n1 + 1) / 2
    n = n1 + n2
    variance = n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1))) if n > 1 else 0.0
    if variance <= 0:
        return 1.0
    z = (u - n1 * n2 / 2 - 0.5) / math.sqrt(variance)
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class Comparison:
    verdict: str             # PASS | REGRESSION | WITHIN_NOISE | NOISY
    ratio: float             # this p95 / the base's p95
    p_value: float | None    # None when the distributions were not compared


def compare(new: list[float], base: list[float], factor: float) -> Comparison:
    """The verdict on `new` per-round times against the base's, allowed `factor` on p95."""
    p95_new = percentile(sorted(new), 95) if new else 0.0
    p95_base = percentile(sorted(base), 95) if base else 0.0
    ratio = p95_new / p95_base if p95_base > 0 else 1.0
    if too_noisy(new):
        return Comparison(NOISY, ratio, None)
    if ratio <= factor:
        return Comparison(PASS, ratio, None)
    p_value = slower_p_value(new, base)
    return Comparison(REGRESSION if p_value < SIGNIFICANCE else WITHIN_NOISE, ratio, p_value)
