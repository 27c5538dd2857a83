"""The per-test hot path, in the process that runs the tests: seed, capture, time, sample.

Costs per test (see shared/notes/per-test-cost-facts.md): raw RNG state bytes (~1-3 µs each),
SHA-256 only when a state's bytes changed since the last capture, no psutil, nothing
serialised until the session ends. Between two tests pytest runs enough code to evict ours
from the CPU caches, so work done once per test costs several times what a loop costs: the
seeds of all collected tests are derived in one loop, and the states of BATCH_TESTS tests are
compared and hashed together (their raw bytes, ~20 KB a test, held until then).
"""
from __future__ import annotations

import time
from types import ModuleType
from typing import Any

from testlog.core.seeds import derive_seed, session_seed
from testlog.core.timefmt import to_microsecond
from testlog.plugin.sysstat import RssReader
from testlog.rng import REGISTRY, loaded_rngs

SEEDED, STATE_STORED = "seeded", "state-stored"
BATCH_TESTS = 64


class TestCapture:
    """What one test left behind in this process; turned into a record at the session's end.
    Its `before`/`after` digests are filled in batches: read them only after
    `Capturer.flush()` (or `finish()`, which flushes)."""
    __test__ = False
    __slots__ = ("nodeid", "seed", "before", "after", "start_ns", "end_ns", "wall_ns", "cpu_ns",
                 "rss", "inputs", "outputs", "errors", "generator", "worker", "started",
                 "attempts", "attempt_start_ns", "entropy")

    def __init__(self, nodeid: str, seed: int, worker: str | None) -> None:
        self.nodeid, self.seed, self.worker = nodeid, seed, worker
        self.before: dict[str, str] = {}
        self.after: dict[str, str] = {}
        self.start_ns = self.end_ns = self.wall_ns = self.cpu_ns = self.rss = 0
        # Most tests declare nothing and raise nothing: these are made on first use.
        self.inputs: dict[str, dict[str, Any]] | None = None
        self.outputs: dict[str, dict[str, Any]] | None = None
        self.errors: list[dict[str, str]] | None = None
        self.generator: Any = None        # the testlog_rng Generator, when the test asked for one
        self.started = False              # pytest announced its (first) attempt
        # A test a plugin re-ran: each earlier attempt's times, RNG after-states and outputs.
        self.attempts: list[dict[str, Any]] | None = None
        self.attempt_start_ns = 0         # when the last attempt started (0: the only one)
        # The OS entropy it drew (plugin/entropy.py: a dump when recording, what was fed back
        # when replaying); None: none, or not captured.
        self.entropy: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (what xdist workers send to the controller)."""
        data = {"nodeid": self.nodeid, "seed": self.seed, "worker": self.worker,
                "before": self.before, "after": self.after, "start_ns": self.start_ns,
                "end_ns": self.end_ns, "wall_ns": self.wall_ns, "cpu_ns": self.cpu_ns,
                "rss": self.rss, "inputs": self.inputs or {}, "outputs": self.outputs or {},
                "errors": self.errors or []}
        if self.attempts:
            data["attempts"] = self.attempts
            data["attempt_start_ns"] = self.attempt_start_ns
        if self.entropy is not None:
            data["entropy"] = self.entropy
        return data


class StateTracker:
    """Digests of RNG states, hashing a state only when its bytes changed since last seen.

    `defer` captures states now and fills their digests in at the next `flush` (in capture
    order, so "changed since last seen" means the same as hashing at once)."""

    def __init__(self, keep_states: bool) -> None:
        self.keep_states = keep_states
        self.full_states: dict[str, bytes] = {}
        self._last: dict[str, tuple[bytes, str]] = {}
        self._pending: list[tuple[dict[str, str], str, bytes, ModuleType, bool]] = []

    def digests(self, rngs: tuple[ModuleType, ...], keep: bool = False) -> dict[str, str]:
        """{name: digest} of each RNG's current state, now."""
        self.flush()
        out: dict[str, str] = {}
        self.defer(rngs, out, keep)
        self.flush()
        return out

    def defer(self, rngs: tuple[ModuleType, ...], into: dict[str, str], keep: bool = False) -> None:
        """Capture each RNG's state now; its digest lands in `into` at the next flush."""
        pending = self._pending
        for rng in rngs:
            pending.append((into, rng.NAME, rng.capture(), rng, keep))

    def flush(self) -> None:
        last_seen, full_states = self._last, self.full_states
        for into, name, raw, rng, keep in self._pending:
            last = last_seen.get(name)
            if last is not None and last[0] == raw:
                digest = last[1]
            else:
                digest = rng.digest(raw)
                last_seen[name] = (raw, digest)
            if keep and digest not in full_states:
                full_states[digest] = raw
            into[name] = digest
        self._pending.clear()


class Capturer:
    """Seeds every loaded RNG from the test's seed before it runs and captures around it."""

    def __init__(self, base_seed: int, *, reseed: bool = True, full_state: bool = False,
                 worker: str | None = None) -> None:
        self.base_seed, self.reseed, self.full_state, self.worker = base_seed, reseed, full_state, worker
        # Without reseeding a test's starting state cannot be regenerated: keep it in full.
        self.states = StateTracker(keep_states=full_state or not reseed)
        self.current: TestCapture | None = None
        self.session_states: dict[str, str] = {}
        self.captures: list[TestCapture] = []
        self.seeds: dict[str, int] = {}
        self.rss = RssReader()
        self.origin_ns = time.perf_counter_ns()     # timing columns count from here
        self.entropy: Any = None       # the entropy tap (plugin/entropy.py), when capturing

    @property
    def determinism(self) -> str:
        return SEEDED if self.reseed else STATE_STORED

    def current_seed(self) -> int:
        return self.current.seed if self.current is not None else session_seed(self.base_seed)

    def seed_session(self) -> None:
        """Seed every loaded RNG from the base seed (before collection), and record the state."""
        self.seed_rngs(loaded_rngs())

    def on_import(self, module_name: str) -> None:
        """A watched library finished importing: seed its RNGs as if loaded from the start."""
        self.seed_rngs(tuple(m for m in REGISTRY if m.IMPORT_NAME == module_name and m.loaded()))

    def seed_rngs(self, rngs: tuple[ModuleType, ...]) -> None:
        seed = self.current_seed()
        for rng in rngs:
            rng.seed(seed)
        if self.current is None:
            self.session_states.update(self.states.digests(rngs, keep=self.full_state))
        else:
            self.states.defer(rngs, self.current.before, keep=self.states.keep_states)

    def derive_seeds(self, nodeids: list[str]) -> None:
        """Each collected test's seed, derived in one loop (see the module's docstring)."""
        base = self.base_seed
        self.seeds = {nodeid: derive_seed(base, nodeid) for nodeid in nodeids}

    def begin(self, nodeid: str) -> TestCapture:
        seed = self.seeds.get(nodeid)
        capture = TestCapture(nodeid, derive_seed(self.base_seed, nodeid) if seed is None else seed,
                              self.worker)
        rngs = loaded_rngs()
        if self.reseed:
            for rng in rngs:
                rng.seed(capture.seed)
        self.states.defer(rngs, capture.before, keep=self.states.keep_states)
        self.current = capture
        if self.entropy is not None:
            self.entropy.enter_test(nodeid)
        capture.wall_ns = time.time_ns()
        capture.cpu_ns = time.process_time_ns()
        capture.start_ns = time.perf_counter_ns()
        return capture

    def next_attempt(self, capture: TestCapture) -> None:
        """A plugin runs the test again (pytest-rerunfailures): close this attempt and reseed
        as before the first, so that every attempt starts from the test's own seed and any one
        of them is reproduced by running the test once."""
        now = time.perf_counter_ns()
        attempt: dict[str, Any] = {"start_ns": capture.attempt_start_ns or capture.start_ns,
                                   "end_ns": now, "after": {}, "outputs": capture.outputs or {}}
        self.states.defer(loaded_rngs(), attempt["after"], keep=self.full_state)
        if capture.generator is not None:
            attempt["after"]["testlog_rng"] = generator_digest(capture.generator)
            capture.generator = None
        capture.attempts = (capture.attempts or []) + [attempt]
        capture.outputs = None
        if self.reseed:
            for rng in loaded_rngs():
                rng.seed(capture.seed)
        capture.attempt_start_ns = time.perf_counter_ns()

    def end(self, capture: TestCapture) -> bool:
        """Close the capture; True when this completed a batch (every capture so far is
        complete: see `export`)."""
        capture.end_ns = time.perf_counter_ns()
        capture.cpu_ns = time.process_time_ns() - capture.cpu_ns
        capture.rss = self.rss()
        if self.entropy is not None:
            capture.entropy = self.entropy.leave_test()
        self.states.defer(loaded_rngs(), capture.after, keep=self.full_state)
        if capture.generator is not None:
            capture.after["testlog_rng"] = generator_digest(capture.generator)
            capture.generator = None
        self.current = None
        self.captures.append(capture)
        if len(self.captures) % BATCH_TESTS == 0:
            self.states.flush()
            return True
        return False

    def flush(self) -> None:
        """Fill in every state digest still pending (each capture's before/after is complete)."""
        self.states.flush()

    def export(self, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
        """Captures `start` to `stop` (default: the last) as plain data, times in ns since this
        process's session start, to the microsecond (every state digest filled in first)."""
        self.flush()
        origin = self.origin_ns
        out = []
        for capture in self.captures[start:stop]:
            data = capture.as_dict()
            data["start_ns"] = to_microsecond(data["start_ns"] - origin)
            data["end_ns"] = to_microsecond(data["end_ns"] - origin)
            data["wall_ns"] = to_microsecond(data["wall_ns"])
            data["cpu_ns"] = to_microsecond(data["cpu_ns"])
            if "attempts" in data:
                data["attempt_start_ns"] = to_microsecond(data["attempt_start_ns"] - origin)
                data["attempts"] = [{**a, "start_ns": to_microsecond(a["start_ns"] - origin),
                                     "end_ns": to_microsecond(a["end_ns"] - origin)}
                                    for a in data["attempts"]]
            out.append(data)
        return out

    def finish(self) -> list[dict[str, Any]]:
        """Every capture as plain data (see `export`), handed over: the capturer keeps none.
        full_states is complete after this."""
        out = self.export()
        self.captures = []
        self.rss.close()
        return out


def generator_digest(generator: Any) -> str:
    """SHA-256 of a numpy Generator's bit generator state (canonical JSON of its dict)."""
    from testlog.core.canonical import canonical_json, sha256_hex
    return sha256_hex(canonical_json(generator.bit_generator.state))
