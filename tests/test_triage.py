"""Triage rules as a table (spec IX)."""
from __future__ import annotations

import pytest

from testlog.core.triage import (
    CRITICAL,
    MINOR,
    MODERATE,
    VERIFIED,
    VERIFIED_DRIFT,
    Observation,
    Verdict,
    triage,
    worst,
)

CASES = [
    (Observation("PASS", "PASS"), VERIFIED, False),
    (Observation("PASS", "FAIL"), CRITICAL, True),
    (Observation("PASS", "PASS", rng_mismatches=("numpy",)), CRITICAL, True),
    (Observation("PASS", "PASS", seed_corrupt=True), CRITICAL, True),
    (Observation("PASS", "PASS", rng_leaks=("python",)), CRITICAL, True),
    (Observation("PASS", "PASS", hash_matches=False, numeric_delta=None), MODERATE, True),
    (Observation("PASS", "PASS", hash_matches=False, numeric_delta=1e-6), MINOR, True),
    (Observation("PASS", "PASS", hash_matches=False, numeric_delta=1e-6, same_platform=False), MINOR, True),
    (Observation("PASS", "PASS", hash_matches=False, numeric_delta=1e-9), MINOR, False),
    (Observation("PASS", "PASS", hash_matches=False, numeric_delta=1e-9, same_platform=False),
     VERIFIED_DRIFT, False),
    (Observation("PASS", "FAIL", hash_matches=False, numeric_delta=None), CRITICAL, True),
]


@pytest.mark.parametrize("obs,level,alert", CASES)
def test_triage_table(obs: Observation, level: str, alert: bool):
    verdict = triage(obs)
    assert (verdict.level, verdict.audit_alert) == (level, alert)
    assert verdict.passed == (level in (VERIFIED, VERIFIED_DRIFT))


def test_worst_orders_by_severity():
    assert worst([Verdict(VERIFIED), Verdict(MODERATE), Verdict(MINOR)]) == MODERATE
    assert worst([]) == VERIFIED
