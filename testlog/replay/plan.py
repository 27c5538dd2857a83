"""What a replay must do, from a recorded run: the tests in recorded order with what each
recorded, and the run-wide facts (seeds, reseeding, PYTHONHASHSEED, source, environment).

Pure: no pytest, no git.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from testlog.core.entropy import Draws, SideFile, collection_blocks, replayable
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
    # SHA-256 of what pytest captured, per "<phase>/<stream>"; None: the run hashed none.
    output_digests: dict[str, str] | None = None
    attempts: tuple[str, ...] = ()   # statuses of a re-run test's attempts, in order
    entropy: dict[str, Any] | None = None   # what its record says of the OS entropy it drew


@dataclass(frozen=True)
class EntropyPlan:
    """The OS entropy the run's tests drew, to feed back (core/entropy.py)."""
    captured: bool = False                  # False: not recorded (--testlog-no-entropy, or
                                            # a run older than run schema 3)
    tests: dict[str, Draws] = field(default_factory=dict)       # nodeid -> its draws
    collection: dict[str, Draws] = field(default_factory=dict)  # collector id -> draws
    unkept: frozenset[str] = frozenset()    # collection scopes past the limit (not replayable)

    def test_draws(self, test: PlannedTest) -> Draws | None:
        """What to feed a test; None when nothing can be (a run that did not capture, a test
        whose draws were past the limit, or whose capture never came)."""
        if not self.captured or not test.captured or (
                test.entropy is not None and not replayable(test.entropy)):
            return None
        return self.tests.get(test.nodeid, ())

    def collection_draws(self, collector: str) -> Draws | None:
        if not self.captured or collector in self.unkept:
            return None
        return self.collection.get(collector, ())


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
    capture: dict[str, Any] = field(default_factory=dict)   # the run's capture settings
    incomplete: str | None = None       # how the recorded run ended early, if it did
    verdict: str | None = None          # the recorded run's verdict
    totals: dict[str, Any] = field(default_factory=dict)
    entropy: EntropyPlan = field(default_factory=EntropyPlan)

    @property
    def hashed_output(self) -> bool:
        """Whether the recorded run hashed captured output (a replay compares it then)."""
        return bool(self.capture.get("hashed"))

    @property
    def nodeids(self) -> list[str]:
        return [t.nodeid for t in self.tests]

    def by_nodeid(self) -> dict[str, PlannedTest]:
        return {t.nodeid: t for t in self.tests}


def planned_test(record: dict[str, Any], base_seed: int, hashed: bool = False) -> PlannedTest:
    outputs = record.get("outputs") or {}
    listed = record.get("attempts")
    attempts: list[Any] = listed if isinstance(listed, list) else []
    derived = derive_seed(base_seed, record["test_name"])
    seed = int(record.get("seed", derived))
    return PlannedTest(
        nodeid=record["test_name"], order=int(record.get("order", -1)), worker=record.get("worker"),
        seed=seed, seed_ok=seed == derived,
        status=record["status"], before=dict(record.get("rng_state") or {}),
        after=dict(record.get("rng_state_after") or {}), result_hash=outputs.get("result_hash"),
        outputs=dict(outputs.get("values") or {}), inputs=dict(record.get("inputs") or {}),
        duration_ms=float(record.get("duration_ms") or 0.0),
        captured=record.get("determinism_check") != NOT_CAPTURED,
        output_digests=dict(outputs.get("captured") or {}) if hashed else None,
        attempts=tuple(str(a.get("status")) for a in attempts if isinstance(a, dict)),
        entropy=dict(record["entropy"]) if isinstance(record.get("entropy"), dict) else None)


def replay_order(tests: list[PlannedTest]) -> tuple[PlannedTest, ...]:
    """Recorded execution order; a test recorded twice (re-run) is replayed once, first."""
    seen: dict[str, PlannedTest] = {}
    for test in sorted(tests, key=lambda t: (t.order, t.nodeid)):
        seen.setdefault(test.nodeid, test)
    return tuple(seen.values())


# Runs recorded before run schema 2 say how they ended only by pytest's exit status.
_LEGACY_ENDINGS = {2: "interrupted (pytest's exit status 2: Ctrl-C, a stop or collection "
                      "errors)", 3: "ended in an INTERNALERROR (pytest's exit status 3)"}


def legacy_incomplete(run: dict[str, Any]) -> str | None:
    """How a run recorded before run schema 2 ended early, from its exit status alone."""
    if "incomplete" in run:
        return None
    status = run.get("exit_status")
    return _LEGACY_ENDINGS.get(status) if isinstance(status, int) else None


def decoded_states(determinism: dict[str, Any]) -> dict[str, bytes]:
    return {digest: base64.b64decode(raw) for digest, raw in (determinism.get("full_states") or {}).items()}


def entropy_plan(run: dict[str, Any], tests: tuple[PlannedTest, ...],
                 determinism: dict[str, Any], side: SideFile | None) -> EntropyPlan:
    """What to feed back: each replayed test's draws (of its first occurrence, which the
    replay runs) and each collection scope's."""
    settings = run.get("entropy")
    if not isinstance(settings, dict) or settings.get("captured") is not True:
        return EntropyPlan()
    side = side or SideFile()
    blocks = collection_blocks(determinism)
    return EntropyPlan(
        captured=True,
        tests={t.nodeid: side.tests[(t.nodeid, t.order)] for t in tests
               if (t.nodeid, t.order) in side.tests},
        collection=dict(side.collection),
        unkept=frozenset(scope for scope, b in blocks.items() if not replayable(b)))


def build_plan(run: dict[str, Any], records: list[dict[str, Any]],
               determinism: dict[str, Any], entropy: SideFile | None = None) -> ReplayPlan:
    """`entropy`: the run's side file, already checked against its records (loading.py)."""
    base_seed = int(run["base_seed"])
    capture = dict(run.get("capture") or {}) if isinstance(run.get("capture"), dict) else {}
    hashed = bool(capture.get("hashed"))
    tests = replay_order([planned_test(r, base_seed, hashed) for r in records])
    return ReplayPlan(
        suite=run["suite"], base_seed=base_seed, reseed=bool(run.get("reseed", True)),
        pythonhashseed=run.get("pythonhashseed"),
        session_states=dict(run.get("session_states") or {}), source=dict(run.get("source") or {}),
        environment=dict(run.get("environment") or {}),
        pytest_args=tuple((run.get("pytest") or {}).get("args") or ()),
        pytest_version=(run.get("pytest") or {}).get("version"), started=run.get("started"),
        tests=tests,
        full_states=decoded_states(determinism),
        rootdir=run.get("rootdir") if isinstance(run.get("rootdir"), str) else None,
        capture=capture, incomplete=run.get("incomplete") or legacy_incomplete(run),
        verdict=run.get("verdict"), totals=dict(run.get("totals") or {}),
        entropy=entropy_plan(run, tests, determinism, entropy))


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
