"""Chronicle events (spec XI): one NDJSON line per log-branch commit. The commit chain orders them."""
from __future__ import annotations

from typing import Any

from testlog.core import branchjson
from testlog.core.canonical import canonical_json, sha256_hex
from testlog.core.timefmt import utc_now
from testlog.errors import TestlogError

# Every event a log commit records (its chronicle line and its Testlog-Event trailer).
TEST_SUITE_EXECUTED = "TEST_SUITE_EXECUTED"
COVERAGE_RECORDED = "COVERAGE_RECORDED"
BENCH_RECORDED = "BENCH_RECORDED"
REPLAY_VERIFIED = "REPLAY_VERIFIED"
REPLAY_FAILED = "REPLAY_FAILED"
AUDIT_SEALED = "AUDIT_SEALED"
RETENTION_EPOCH = "RETENTION_EPOCH"
ROTATION = "ROTATION"
EVENTS = (TEST_SUITE_EXECUTED, COVERAGE_RECORDED, BENCH_RECORDED, REPLAY_VERIFIED,
          REPLAY_FAILED, AUDIT_SEALED, RETENTION_EPOCH, ROTATION)


def make_event(event: str, artifact: str, artifact_bytes: bytes, verdict: str,
               signature: str, timestamp: str | None = None) -> dict[str, Any]:
    if event not in EVENTS:
        raise ValueError(f"unknown chronicle event {event!r}")
    return {"event": event, "timestamp": timestamp or utc_now(), "artifact": artifact,
            "hash": sha256_hex(artifact_bytes), "signature": signature, "verdict": verdict}


def event_line(event: dict[str, Any]) -> bytes:
    return canonical_json(event) + b"\n"


def parse_chronicle(data: bytes) -> list[dict[str, Any]]:
    """All events, oldest first; a malformed line is an error naming its number."""
    events = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            events.append(branchjson.loads(line))
        except ValueError:
            raise TestlogError(f"chronicle.ndjson line {number} is not JSON "
                               "(the log branch was edited by hand?)") from None
    return events
