"""Test outcomes from pytest's reports, and the per-test record of DESIGN.md "Records".

A record has these keys: test_name, timestamp_start, timestamp_end, duration_ms, status, seed,
rng_state, rng_state_after, inputs, outputs, determinism_check, environment, order, worker,
signature; and, only where they apply (run schema 2): `subtests` (a test with subtests: their
counts and each failing one), `attempts` and `flaky` (a test re-run by a plugin such as
pytest-rerunfailures: every attempt in order) and `benchmark` (pytest-benchmark's statistics);
(run schema 3) `entropy` (a test that drew OS entropy: core/entropy.py).
`outputs.captured` holds the SHA-256 of what pytest's capture saw, per phase and stream, when
the run hashes captured output and the test printed or logged anything.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from testlog.core.canonical import dumps_normal, sha256_hex
from testlog.core.errorinfo import first_line
from testlog.core.hashing import result_hash
from testlog.core.seeds import derive_seed
from testlog.core.timefmt import IsoClock

RECORD_KEYS = ("test_name", "timestamp_start", "timestamp_end", "duration_ms", "status", "seed",
               "rng_state", "rng_state_after", "inputs", "outputs", "determinism_check",
               "environment", "order", "worker", "signature")
STATUSES = ("PASS", "FAIL", "ERROR", "SKIP", "XFAIL", "XPASS")
NOT_CAPTURED = "not-captured"     # the worker running it died before sending its captures


@dataclass
class Failure:
    when: str                 # setup | call | teardown | collect
    text: str                 # the full report (traceback) pytest printed
    message: str              # the crash line (`assert 1 == 2`, `ZeroDivisionError: …`)
    error_type: str = ""
    subtest: str = ""         # a failing subtest: its description (`[msg] (i=1)`)
    attempt: int = 1          # which attempt of a re-run test failed so (1: the first)


# Counts of a test's subtests by outcome, and the failing ones.
SUBTEST_OUTCOMES = ("passed", "failed", "skipped", "xfailed")


@dataclass(slots=True)      # one per test, alive all session: no per-instance dict for the GC
class TestOutcome:
    """One test's three phases, as reported to the process that writes the log: of its last
    attempt when a plugin re-ran it (`attempts` holds the earlier ones), with its subtests."""
    __test__ = False
    nodeid: str
    phases: dict[str, tuple[str, bool]] = field(default_factory=dict)   # when -> (outcome, xfail)
    failures: list[Failure] = field(default_factory=list)
    skip_reason: str = ""
    order: int = -1
    worker: str | None = None
    # Most tests have none of these: None until first needed (cheap to keep and to pickle).
    subtests: dict[str, int] | None = None          # SUBTEST_OUTCOMES -> count
    attempts: list[dict[str, Any]] | None = None    # earlier attempts (see attempt_entry)
    reruns: int = 0                                 # reports pytest counts as "rerun"
    captured: dict[str, str] | None = None          # "<phase>/<stream>" -> sha256 hex
    benchmark: dict[str, Any] | None = None         # pytest-benchmark's statistics

    @property
    def status(self) -> str:
        status = status_of(self.phases)
        if self.subtests and self.subtests.get("failed") and status != "ERROR":
            return "FAIL"         # a failing subtest fails its test (unittest's pytest says pass)
        return status

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled in batches to the writer process: positional fields cost a fifth of the
        # __getstate__ a slots dataclass gets.
        return (TestOutcome, (self.nodeid, self.phases, self.failures, self.skip_reason,
                              self.order, self.worker, self.subtests, self.attempts,
                              self.reruns, self.captured, self.benchmark))


def status_of(phases: dict[str, tuple[str, bool]]) -> str:
    """PASS/FAIL/ERROR/SKIP/XFAIL/XPASS from (outcome, wasxfail) per phase, as pytest counts them."""
    setup = phases.get("setup", ("passed", False))
    call = phases.get("call")
    teardown = phases.get("teardown", ("passed", False))
    if setup[0] == "failed":
        return "ERROR"
    if setup[0] == "skipped":
        return "XFAIL" if setup[1] else "SKIP"
    if call is None:
        return "ERROR"            # interrupted, or the worker crashed mid-test
    if call[0] == "failed":
        return "FAIL"
    if teardown[0] == "failed":
        return "ERROR"
    if call[0] == "skipped":
        return "XFAIL" if call[1] else "SKIP"
    return "XPASS" if call[1] else "PASS"


def redact_display(descriptions: dict[str, dict[str, Any]],
                   redact: Callable[[str], str]) -> dict[str, dict[str, Any]]:
    """Shown string values with environment values replaced (hashes stay those of the real values)."""
    if not descriptions:         # most tests declare nothing
        return {}
    return {name: {k: _redact_strings(v, redact) if k in ("value", "exact", "path") else v
                   for k, v in desc.items()} for name, desc in descriptions.items()}


def _redact_strings(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_strings(v, redact) for v in value]
    if isinstance(value, dict):
        return {k: _redact_strings(v, redact) for k, v in value.items()}
    return value


def build_record(outcome: TestOutcome, capture: dict[str, Any] | None, *, base_seed: int,
                 environment: dict[str, Any], determinism: str, clock: IsoClock,
                 redact: Callable[[str], str],
                 environment_json: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """The signed record of one test and its canonical JSON; `capture` is None when its
    worker never sent it. `environment_json`: dumps_normal(environment), encoded once a run."""
    cap = capture or {}
    duration_ns = cap.get("end_ns", 0) - cap.get("start_ns", 0)
    wall = cap.get("wall_ns")
    outputs = cap.get("outputs", {})
    out_block: dict[str, Any] = {"result_hash": result_hash(outputs),
                                 "values": redact_display(outputs, redact)}
    if outcome.captured:
        out_block["captured"] = outcome.captured
    record = {
        "test_name": outcome.nodeid,
        "timestamp_start": clock(wall) if wall else None,
        "timestamp_end": clock(wall + duration_ns) if wall else None,
        "duration_ms": ms(duration_ns),
        "status": outcome.status,
        "seed": cap["seed"] if "seed" in cap else derive_seed(base_seed, outcome.nodeid),
        "rng_state": cap.get("before", {}),
        "rng_state_after": cap.get("after", {}),
        "inputs": redact_display(cap.get("inputs", {}), redact),
        "outputs": out_block,
        "determinism_check": determinism if capture is not None else NOT_CAPTURED,
        "environment": environment,
        "order": outcome.order,
        "worker": outcome.worker,
    }
    if outcome.subtests:
        record["subtests"] = subtests_block(outcome, redact)
    if outcome.attempts:
        record["attempts"] = attempts_block(outcome, cap, redact)
        record["flaky"] = is_flaky(outcome)
    if outcome.benchmark:
        record["benchmark"] = outcome.benchmark
    if cap.get("entropy"):
        from testlog.core.entropy import block  # only a test that drew needs it
        record["entropy"] = block(cap["entropy"])
    return sign(record, environment_json)


def is_flaky(outcome: TestOutcome) -> bool:
    """A re-run test whose attempts did not all end alike."""
    return bool(outcome.attempts) and len({a["status"] for a in outcome.attempts or []}
                                          | {outcome.status}) > 1


def subtests_block(outcome: TestOutcome, redact: Callable[[str], str]) -> dict[str, Any]:
    """Counts of the test's subtests by outcome, and each failing one with its crash line."""
    counts = outcome.subtests or {}
    block: dict[str, Any] = {name: counts.get(name, 0) for name in SUBTEST_OUTCOMES}
    last = len(outcome.attempts or []) + 1
    block["failing"] = [{"subtest": redact(f.subtest), "message": redact(first_line(f.message))}
                        for f in outcome.failures if f.subtest and f.attempt == last]
    return block


def attempt_entry(status: str, failure: Failure | None, captured: dict[str, str] | None) -> dict[str, Any]:
    """What the session's process knows of one attempt of a re-run test (from its reports)."""
    return {"status": status, "when": failure.when if failure else None,
            "message": first_line(failure.message) if failure else None,
            "captured": captured or {}}


def attempts_block(outcome: TestOutcome, cap: dict[str, Any],
                   redact: Callable[[str], str]) -> list[dict[str, Any]]:
    """Every attempt in order (the last is the record itself): its status, the phase and
    crash line of its failure, its duration, RNG after-states, result hash and captured
    output. The runner reseeds each attempt from the test's seed, so any one of them is
    reproduced by running the test once."""
    last = len(outcome.attempts or []) + 1
    last_failure = next((f for f in outcome.failures if not f.subtest and f.attempt == last),
                        None)
    reported = list(outcome.attempts or []) + [attempt_entry(outcome.status, last_failure,
                                                             outcome.captured)]
    measured = list(cap.get("attempts", [])) + [{
        "start_ns": cap.get("attempt_start_ns", cap.get("start_ns", 0)),
        "end_ns": cap.get("end_ns", 0), "after": cap.get("after", {}),
        "outputs": cap.get("outputs", {})}]
    if len(measured) != len(reported):       # a plugin ran attempts we could not tell apart
        measured = [{}] * (len(reported) - 1) + measured[-1:]
    block = []
    for number, (said, seen) in enumerate(zip(reported, measured), 1):
        block.append({
            "attempt": number, "status": said["status"], "when": said["when"],
            "message": redact(said["message"]) if said["message"] else None,
            "duration_ms": ms(seen.get("end_ns", 0) - seen.get("start_ns", 0)),
            "rng_state_after": seen.get("after", {}),
            "result_hash": result_hash(seen["outputs"]) if "outputs" in seen else None,
            "captured": said["captured"]})
    return block


_STATUS_KEY = b',"status":'
_ENV_PLACEHOLDER = b'"environment":0,'


def sign(record: dict[str, Any],
         environment_json: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """(record with its signature, canonical JSON of it): canonical.record_signature's value,
    with the record encoded once (and its environment, the same in every record, not at all)."""
    if environment_json is None:
        body = dumps_normal(record)
    else:
        # The keys before "environment" hold a string and a number: its first match is the key.
        body = dumps_normal({**record, "environment": 0}).replace(
            _ENV_PLACEHOLDER, b'"environment":' + environment_json + b",", 1)
    signature = "SHA256:" + sha256_hex(body)
    record["signature"] = signature
    # Keys are sorted: "signature" sits right before the top-level "status"; the keys after
    # it hold only strings, numbers or null, so the last `,"status":` is that key.
    at = body.rfind(_STATUS_KEY)
    return record, body[:at] + b',"signature":"' + signature.encode() + b'"' + body[at:]


def ms(nanoseconds: int) -> float:
    """Milliseconds from integer nanoseconds: already canonical (round(x, 6) == x), since the
    double nearest k/10**6 rounds to itself at 6 decimals."""
    return nanoseconds / 1e6

