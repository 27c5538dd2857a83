"""Replay verdicts and triage (spec IX): pure rules, tested with tables."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

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
    captured_differs: tuple[str, ...] = ()   # "<phase>/<stream>" whose captured output differs
    attempts: tuple[tuple[str, ...], tuple[str, ...]] | None = None   # (recorded, replayed)
    # What differed between two replays under two PYTHONHASHSEEDs (a run recorded without
    # one): the test depends on set/dict iteration order, whatever else differs.
    hash_order: tuple[str, ...] = ()
    hash_seeds: tuple[str, str] = ("", "")
    # How its draws of OS entropy differed from the recorded ones (it drew more or other).
    entropy_differs: tuple[str, ...] = ()
    # Why it got real entropy where none could be fed back: said beside any other reason.
    entropy_note: str = ""


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: tuple[str, ...] = field(default=())
    audit_alert: bool = False                # any deviation above 1e-8

    @property
    def passed(self) -> bool:
        return self.level in PASSING


def triage(obs: Observation) -> Verdict:
    verdict = _triage(obs)
    if verdict.passed:
        return verdict
    extra = tuple(r for r in _entropy_reasons(obs) if r not in verdict.reasons)
    return replace(verdict, reasons=verdict.reasons + extra) if extra else verdict


def _entropy_reasons(obs: Observation) -> tuple[str, ...]:
    return tuple(f"entropy draws differ: {d}" for d in obs.entropy_differs) + (
        (obs.entropy_note,) if obs.entropy_note else ())


def _triage(obs: Observation) -> Verdict:
    unrelated = _seed_reasons(obs)
    if unrelated:
        return Verdict(CRITICAL, unrelated + _critical_reasons(obs), audit_alert=True)
    if obs.hash_order:
        # What moves with the hash seed is named by hash order alone; anything else that
        # differs from the record is named (and judged) as it would be without it.
        explained = frozenset(obs.hash_order)
        critical = _critical_reasons(obs, explained)
        return Verdict(CRITICAL if critical else MODERATE, (_hash_order_reason(obs),) + critical
                       + _moderate_reasons(obs, explained), audit_alert=True)
    critical = _critical_reasons(obs)
    if critical:
        return Verdict(CRITICAL, critical, audit_alert=True)
    moderate = _moderate_reasons(obs)
    if moderate:
        return Verdict(MODERATE, moderate, audit_alert=True)
    if obs.hash_matches or obs.numeric_delta is None:
        return Verdict(VERIFIED)
    delta = f"max numeric Δ {obs.numeric_delta:.3g}"
    if obs.numeric_delta > TOLERANCE:
        return Verdict(MINOR, (f"{delta} > {TOLERANCE:g}",), audit_alert=True)
    if obs.same_platform:
        return Verdict(MINOR, (f"{delta} on the same platform (bit-identity demanded)",))
    return Verdict(VERIFIED_DRIFT, (f"{delta} ≤ {TOLERANCE:g} across platforms",))


def _seed_reasons(obs: Observation) -> tuple[str, ...]:
    """Critical whatever else differs: the test did not start from its recorded state."""
    reasons = []
    if obs.seed_corrupt:
        reasons.append("seed corruption: the seed no longer regenerates the recorded state")
    if obs.rng_leaks:
        reasons.append("RNG state leaked in from an earlier test (reseeding off): "
                       + ", ".join(sorted(obs.rng_leaks)))
    return tuple(reasons)


def _critical_reasons(obs: Observation, explained: frozenset[str] = frozenset()
                      ) -> tuple[str, ...]:
    """`explained`: the parts (hashprobe.PARTS) that hash order is known to move."""
    reasons = []
    if obs.status_before != obs.status_after and "status" not in explained:
        reasons.append(f"status {obs.status_before} → {obs.status_after}")
    if obs.rng_mismatches and "RNG states" not in explained:
        reasons.append("RNG state mismatch: " + ", ".join(sorted(obs.rng_mismatches)))
    return tuple(reasons)


def _moderate_reasons(obs: Observation, explained: frozenset[str] = frozenset()
                      ) -> tuple[str, ...]:
    reasons = []
    if (obs.attempts is not None and obs.attempts[0] != obs.attempts[1]
            and "attempts" not in explained):
        reasons.append(f"attempts {', '.join(obs.attempts[0]) or 'none'} → "
                       f"{', '.join(obs.attempts[1]) or 'none'}")
    if not obs.hash_matches and obs.numeric_delta is None and "outputs" not in explained:
        reasons.append("output hash mismatch")
    if obs.captured_differs and "captured output" not in explained:
        reasons.append("captured output differs: " + ", ".join(
            key.replace("/", " ") for key in obs.captured_differs))
    reasons.extend(f"entropy draws differ: {d}" for d in obs.entropy_differs)
    return tuple(reasons)


def _hash_order_reason(obs: Observation) -> str:
    first, second = obs.hash_seeds
    return (f"hash order: {', '.join(obs.hash_order)} differ(s) between PYTHONHASHSEED={first} "
            f"and PYTHONHASHSEED={second}; the run was recorded without PYTHONHASHSEED, so "
            "its set/dict iteration order cannot be replayed")


def worst(verdicts: list[Verdict]) -> str:
    return max((v.level for v in verdicts), key=SEVERITY.__getitem__, default=VERIFIED)
