"""What a replay must do, from a recorded run: the tests in recorded order with what each
recorded, and the run-wide facts (seeds, reseeding, PYTHONHASHSEED, source, environment).

Pure: no pytest, no git.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from testlog.core.records import NOT_CAPTURED
from testlog.core.seeds import derive_seed

GENERATOR = "testlog_rng"        # the per-test Generator of the testlog_rng fixture: never leaks


@dataclass(frozen=True)
class PlannedTest:
    """One recorded test: what its replay is judged against."""
    nodeid: str
    order: int
    worker: str | None
    seed: int
    status: str
    before: dict[str, str]
    after: dict[str, str]
    result_hash: str | None
    outputs: dict[str, dict[str, Any]]
    inputs: dict[str, dict[str, Any]]
    duration_ms: float
    captured: bool = True        # False: its xdist worker died before sending the capture
    seed_ok: bool = True         # its seed is the one derived from the base seed and nodeid


@dataclass(frozen=True)
class ReplayPlan:
    suite: str
    base_seed: int
    reseed: bool
    pythonhashseed: str | None
    session_states: dict[str, str]
    source: dict[str, Any]
    environment: dict[str, Any]
    pytest_args: tuple[str, ...]
    pytest_version: str | None
    started: str | None
    tests: tuple[PlannedTest, ...]
    full_states: dict[str, bytes] = field(default_factory=dict, repr=False)
    rootdir: str | None = None          # recorded rootdir relative to the source's top

    @property
    def nodeids(self) -> list[str]:
        return [t.nodeid for t in self.tests]

    def by_nodeid(self) -> dict[str, PlannedTest]:
        return {t.nodeid: t for t in self.tests}


def planned_test(record: dict[str, Any], base_seed: int) -> PlannedTest:
    outputs = record.get("outputs") or {}
    derived = derive_seed(base_seed, record["test_name"])
    seed = int(record.get("seed", derived))
    return PlannedTest(
        nodeid=record["test_name"], order=int(record.get("order", -1)), worker=record.get("worker"),
        seed=seed, seed_ok=seed == derived,
        status=record["status"], before=dict(record.get("rng_state") or {}),
        after=dict(record.get("rng_state_after") or {}), result_hash=outputs.get("result_hash"),
        outputs=dict(outputs.get("values") or {}), inputs=dict(record.get("inputs") or {}),
        duration_ms=float(record.get("duration_ms") or 0.0),
        captured=record.get("determinism_check") != NOT_CAPTURED)


def replay_order(tests: list[PlannedTest]) -> tuple[PlannedTest, ...]:
    """Recorded execution order; a test recorded twice (re-run) is replayed once, first."""
    seen: dict[str, PlannedTest] = {}
    for test in sorted(tests, key=lambda t: (t.order, t.nodeid)):
        seen.setdefault(test.nodeid, test)
    return tuple(seen.values())


def decoded_states(determinism: dict[str, Any]) -> dict[str, bytes]:
    return {digest: base64.b64decode(raw) for digest, raw in (determinism.get("full_states") or {}).items()}


def build_plan(run: dict[str, Any], records: list[dict[str, Any]],
               determinism: dict[str, Any]) -> ReplayPlan:
    base_seed = int(run["base_seed"])
    return ReplayPlan(
        suite=run["suite"], base_seed=base_seed, reseed=bool(run.get("reseed", True)),
        pythonhashseed=run.get("pythonhashseed"),
        session_states=dict(run.get("session_states") or {}), source=dict(run.get("source") or {}),
        environment=dict(run.get("environment") or {}),
        pytest_args=tuple((run.get("pytest") or {}).get("args") or ()),
        pytest_version=(run.get("pytest") or {}).get("version"), started=run.get("started"),
        tests=replay_order([planned_test(r, base_seed) for r in records]),
        full_states=decoded_states(determinism),
        rootdir=run.get("rootdir") if isinstance(run.get("rootdir"), str) else None)


def files_of(nodeids: list[str]) -> list[str]:
    """The files holding these tests, in first-seen order (what to give pytest)."""
    files: dict[str, None] = {}
    for nodeid in nodeids:
        files.setdefault(nodeid.split("::", 1)[0], None)
    return list(files)


def rng_leaks(tests: tuple[PlannedTest, ...] | list[PlannedTest]) -> dict[str, tuple[str, ...]]:
    """Tests that drew from an RNG in the state an earlier test (same process) left it in.

    Only possible when reseeding was off: a test's starting state then equals the after-state
    of the last earlier test that moved that RNG, and the test moved it in turn.
    """
    last_mover: dict[tuple[str | None, str], str] = {}      # (worker, rng) -> its after digest
    leaks: dict[str, tuple[str, ...]] = {}
    for test in sorted(tests, key=lambda t: t.order):
        found = []
        for rng, before in test.before.items():
            after = test.after.get(rng)
            if rng == GENERATOR or after is None or after == before:
                continue
            if last_mover.get((test.worker, rng)) == before:
                found.append(rng)
            last_mover[(test.worker, rng)] = after
        if found:
            leaks[test.nodeid] = tuple(sorted(found))
    return leaks
