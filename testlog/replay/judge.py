"""One test's replay against its record: the observation triage rules on, and what to report.

Pure: the replay plugin gathers a `Replayed` per test, this module decides.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from testlog.core.entropy import describe, replayable
from testlog.core.hashing import result_hash
from testlog.core.triage import Observation, Verdict, triage
from testlog.replay.outputs import OutputDiff, compare_outputs, drift_delta, max_delta
from testlog.replay.plan import PlannedTest

MISSING = "MISSING"          # recorded, but this replay did not collect it
NOT_RUN = "NOT-RUN"          # collected, but the session ended before it ran


@dataclass(frozen=True)
class Replayed:
    """What re-running one test produced."""
    status: str
    before: dict[str, str] = field(default_factory=dict)
    after: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    inputs: dict[str, dict[str, Any]] = field(default_factory=dict)
    duration_ms: float = 0.0
    failure: str = ""                      # the crash line when it failed or errored
    restore_missing: tuple[str, ...] = ()  # RNGs whose stored full state was not on the branch
    output_digests: dict[str, str] = field(default_factory=dict)   # what pytest captured
    attempts: tuple[str, ...] = ()         # statuses of its attempts when a plugin re-ran it
    # What differed from a second replay under another PYTHONHASHSEED (hashprobe.py).
    hash_order: tuple[str, ...] = ()
    # The OS entropy it drew (core/entropy.Feed.result); None: none, or excluded by marker.
    entropy: dict[str, Any] | None = None
    # How the entropy drawn collecting its module (or a folder above it) differed; what was
    # drawn there that nothing could feed back.
    collection_entropy: tuple[str, ...] = ()
    collection_unfed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Judgement:
    test: PlannedTest
    replayed: Replayed
    verdict: Verdict
    outputs: tuple[OutputDiff, ...]
    before_mismatch: tuple[str, ...]
    after_mismatch: tuple[str, ...]
    leaks: tuple[str, ...]
    changed_inputs: tuple[str, ...]
    result_hash: str | None

    @property
    def max_delta(self) -> float | None:
        return max_delta(list(self.outputs))


def mismatched(recorded: dict[str, str], replayed: dict[str, str]) -> tuple[str, ...]:
    """RNGs present on both sides whose digests differ (an RNG only one side had loaded is
    one the test could not have drawn from without loading it)."""
    return tuple(sorted(n for n in recorded.keys() & replayed.keys() if recorded[n] != replayed[n]))


def changed_inputs(recorded: dict[str, dict[str, Any]],
                   replayed: dict[str, dict[str, Any]]) -> tuple[str, ...]:
    return tuple(sorted(n for n in recorded.keys() & replayed.keys()
                        if recorded[n].get("hash") != replayed[n].get("hash")))


def captured_differences(recorded: dict[str, str] | None,
                         replayed: dict[str, str]) -> tuple[str, ...]:
    """The "<phase>/<stream>" keys whose captured output differs (None: the run hashed none)."""
    if recorded is None:
        return ()
    return tuple(sorted(k for k in recorded.keys() | replayed.keys()
                        if recorded.get(k) != replayed.get(k)))


def entropy_differences(replayed: Replayed) -> tuple[str, ...]:
    """How the test's draws of OS entropy differ from the recorded ones (ran more or other
    draws than recorded: it got real entropy from there on)."""
    own = (replayed.entropy or {}).get("differs")
    return ((own,) if own else ()) + replayed.collection_entropy


def entropy_context(test: PlannedTest, replayed: Replayed) -> str:
    """Why a test that drew OS entropy got real entropy, where none was fed back: said
    beside the reasons of a test that is not verified."""
    own = _own_context(test, replayed)
    return own or "; ".join(replayed.collection_unfed)


def _own_context(test: PlannedTest, replayed: Replayed) -> str:
    seen = replayed.entropy or {}
    if seen.get("feeding", True) or not seen.get("asked"):
        return ""
    asked = f"it drew OS entropy ({seen['asked']} draw{'s' if seen['asked'] != 1 else ''})"
    if test.entropy is not None and not replayable(test.entropy):
        return (f"{asked}; its recorded entropy ({describe(test.entropy)}) was above the "
                "limit and not kept, so the replay drew real entropy")
    if not test.captured:
        return f"{asked}; its capture never reached the record, so the replay drew real entropy"
    return f"{asked}, which the run did not record (--testlog-no-entropy or an older run)"


def judge(test: PlannedTest, replayed: Replayed, *, same_platform: bool,
          leaks: tuple[str, ...] = (), hash_seeds: tuple[str, str] = ("", "")) -> Judgement:
    ran = replayed.status not in (MISSING, NOT_RUN)
    diffs = compare_outputs(test.outputs, replayed.outputs) if ran else []
    digest = result_hash(replayed.outputs) if ran else None
    hash_ok = digest == test.result_hash and not diffs
    before = mismatched(test.before, replayed.before) if ran and test.captured else ()
    after = mismatched(test.after, replayed.after) if ran and test.captured else ()
    observation = Observation(
        status_before=test.status, status_after=replayed.status, hash_matches=hash_ok or not ran,
        rng_mismatches=after,
        seed_corrupt=bool(before or replayed.restore_missing or not test.seed_ok),
        rng_leaks=leaks, numeric_delta=drift_delta(diffs), same_platform=same_platform,
        captured_differs=captured_differences(test.output_digests, replayed.output_digests)
        if ran else (),
        attempts=(test.attempts, replayed.attempts) if ran and (test.attempts or
                                                                 replayed.attempts) else None,
        hash_order=replayed.hash_order, hash_seeds=hash_seeds,
        entropy_differs=entropy_differences(replayed) if ran else (),
        entropy_note=entropy_context(test, replayed) if ran else "")
    return Judgement(test, replayed, triage(observation), tuple(diffs), before, after, leaks,
                     changed_inputs(test.inputs, replayed.inputs), digest)
