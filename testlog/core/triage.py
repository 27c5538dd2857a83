"""Replay verdicts and triage (spec IX): pure rules, tested with tables."""
from __future__ import annotations

from dataclasses import dataclass, field

TOLERANCE = 1e-8

VERIFIED = "verified"
VERIFIED_DRIFT = "verified-drift"     # numeric Δ ≤ 1e-8 where bit-identity is not promised
MINOR = "minor"                       # ⚠️ numerical drift
MODERATE = "moderate"                 # ❗ an output hash mismatch
CRITICAL = "critical"                 # 🚫 status change, RNG state mismatch, seed corruption

SYMBOLS = {VERIFIED: "✓", VERIFIED_DRIFT: "✓~", MINOR: "⚠️", MODERATE: "❗", CRITICAL: "🚫"}
PASSING = {VERIFIED, VERIFIED_DRIFT}
SEVERITY = {VERIFIED: 0, VERIFIED_DRIFT: 1, MINOR: 2, MODERATE: 3, CRITICAL: 4}


@dataclass(frozen=True)
class Observation:
    """What a replay of one test saw, against its record."""
    status_before: str
    status_after: str
    hash_matches: bool = True
    rng_mismatches: tuple[str, ...] = ()     # RNGs whose after-state digest differs
    seed_corrupt: bool = False               # the seed no longer regenerates the recorded state
    rng_leaks: tuple[str, ...] = ()          # RNGs it drew from as an earlier test left them
    numeric_delta: float | None = 0.0        # max |Δ| over numeric outputs; None: non-numeric differ
    same_platform: bool = True               # bit-identity demanded only on the same platform


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: tuple[str, ...] = field(default=())
    audit_alert: bool = False                # any deviation above 1e-8

    @property
    def passed(self) -> bool:
        return self.level in PASSING


def triage(obs: Observation) -> Verdict:
    critical = _critical_reasons(obs)
    if critical:
        return Verdict(CRITICAL, critical, audit_alert=True)
    if obs.hash_matches:
        return Verdict(VERIFIED)
    if obs.numeric_delta is None:
        return Verdict(MODERATE, ("output hash mismatch",), audit_alert=True)
    delta = f"max numeric Δ {obs.numeric_delta:.3g}"
    if obs.numeric_delta > TOLERANCE:
        return Verdict(MINOR, (f"{delta} > {TOLERANCE:g}",), audit_alert=True)
    if obs.same_platform:
        return Verdict(MINOR, (f"{delta} on the same platform (bit-identity demanded)",))
    return Verdict(VERIFIED_DRIFT, (f"{delta} ≤ {TOLERANCE:g} across platforms",))


def _critical_reasons(obs: Observation) -> tuple[str, ...]:
    reasons = []
    if obs.status_before != obs.status_after:
        reasons.append(f"status {obs.status_before} → {obs.status_after}")
    if obs.rng_mismatches:
        reasons.append("RNG state mismatch: " + ", ".join(sorted(obs.rng_mismatches)))
    if obs.seed_corrupt:
        reasons.append("seed corruption: the seed no longer regenerates the recorded state")
    if obs.rng_leaks:
        reasons.append("RNG state leaked in from an earlier test (reseeding off): "
                       + ", ".join(sorted(obs.rng_leaks)))
    return tuple(reasons)


def worst(verdicts: list[Verdict]) -> str:
    return max((v.level for v in verdicts), key=SEVERITY.__getitem__, default=VERIFIED)
