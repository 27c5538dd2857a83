"""Hash order that cannot pass by luck: a run recorded without PYTHONHASHSEED ran under a
random one, so its set and dict iteration order (of str, bytes and datetime keys) is not
reproducible. Its replay runs under a hash seed derived from the run's base seed, and a second
replay (the probe) runs the same tests under another derived seed. A test whose status,
outputs, captured output, RNG after-states or attempts differ between the two depends on hash
order: it is flagged so, with the same verdict on every replay, whatever the random seed of
the recording happened to give. Pure.
"""
from __future__ import annotations

from typing import Any

from testlog.core.seeds import derive_seed
from testlog.replay.judge import MISSING, NOT_RUN, Replayed

UNPINNED = (None, "", "random")
HASHSEED_LIMIT = 2**32          # PYTHONHASHSEED is 0 .. 4294967295
# What a fingerprint compares, by the name a flag gives it.
PARTS = ("status", "outputs", "captured output", "RNG states", "attempts")


def unpinned(hashseed: str | None) -> bool:
    return hashseed in UNPINNED


def replay_hashseed(base_seed: int) -> str:
    """The PYTHONHASHSEED a run recorded without one is replayed under."""
    return str(derive_seed(base_seed, "PYTHONHASHSEED") % HASHSEED_LIMIT)


def probe_hashseed(base_seed: int, current: str | None) -> str:
    """Another PYTHONHASHSEED for the probe: never the one the replay runs under."""
    seed = derive_seed(base_seed, "PYTHONHASHSEED probe") % HASHSEED_LIMIT
    if current is not None and str(seed) == current:
        seed = (seed + 1) % HASHSEED_LIMIT
    return str(seed)


def fingerprint(replayed: Replayed, result_hash: str | None) -> dict[str, Any]:
    """What two replays of a test must agree on (plain JSON: the probe writes it to a file)."""
    return {"status": replayed.status, "outputs": result_hash,
            "captured output": dict(sorted(replayed.output_digests.items())),
            "RNG states": dict(sorted(replayed.after.items())),
            "attempts": list(replayed.attempts)}


def differences(mine: dict[str, Any], probe: Any) -> tuple[str, ...]:
    """The parts of two fingerprints that differ; none when the probe did not run the test
    (it was not selected there, or the probe's file is not one we wrote)."""
    if not isinstance(probe, dict) or probe.get("status") in (None, MISSING, NOT_RUN) \
            or mine.get("status") in (MISSING, NOT_RUN):
        return ()
    return tuple(part for part in PARTS if mine.get(part) != probe.get(part))
