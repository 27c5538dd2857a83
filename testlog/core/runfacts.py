"""What the history commands (flaky, history, site, compare's variance) take from one run file:
per test its status, duration, seed, the RNG states it started from and its attempts; per run
its source, environment, mode and counts.

Read straight from the compact file's lines: no record is rebuilt (that would regenerate every
derived RNG state) and no signature is checked (`git testlog verify` does). Everything read is
checked for the type it is used as, since a log branch is anyone's to push to: a line that is
not what the recorder writes makes the whole run unreadable (FactsError), never a wrong fact.
Pure: the caller reads the bytes and caches the result (`as_json` / `from_json`).
"""
from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from testlog.core import branchjson
from testlog.core.canonical import canonical_json
from testlog.core.compact import CompactError, parse_compact
from testlog.core.seeds import derive_seed
from testlog.core.shards import run_suite

FAILING = frozenset({"FAIL", "ERROR"})
SERIAL, XDIST, COVERAGE = "serial", "xdist", "coverage"
MAX_LINE = 16 * 1024 * 1024         # one test's line; the recorder writes a few hundred bytes
# One character per status: a run's statuses are one string (compact in memory and cache).
CODE = {"PASS": "P", "FAIL": "F", "ERROR": "E", "SKIP": "S", "XFAIL": "x", "XPASS": "X"}
STATUS_OF = {code: status for status, code in CODE.items()}
FAILING_CODES = frozenset(CODE[s] for s in FAILING)


class FactsError(ValueError):
    """A run file the history commands cannot read (damaged, hand-edited, of a newer format)."""


@dataclass(frozen=True, slots=True)
class TestFact:
    """One test of one run."""
    __test__ = False
    name: str
    status: str                      # PASS FAIL ERROR SKIP XFAIL XPASS
    duration_ms: float
    seed: int | None                 # as stored; None: derived from the base seed and the name
    states: str                      # digest of the RNG states stored for it; "": its seed's
    attempts: tuple[str, ...] = ()   # a re-run test: every attempt's status, in order

    def effective_seed(self, base_seed: int | None) -> int | None:
        if self.seed is not None or base_seed is None:
            return self.seed
        return derive_seed(base_seed, self.name)


@dataclass(frozen=True)
class Tests:
    """A run's tests, one column per fact (3,000 runs of 500 tests are 1.5 million tests: a
    column each is what fits in memory and loads fast). Sparse facts are keyed by position."""
    names: tuple[str, ...]
    codes: str                                   # CODE per test
    durations: tuple[float, ...]                 # ms
    seeds: dict[int, int] = field(default_factory=dict)          # stored seeds
    states: dict[int, str] = field(default_factory=dict)         # stored-state digests
    attempts: dict[int, tuple[str, ...]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    def at(self, i: int) -> TestFact:
        return TestFact(self.names[i], STATUS_OF[self.codes[i]], self.durations[i],
                        self.seeds.get(i), self.states.get(i, ""), self.attempts.get(i, ()))

    def __iter__(self) -> Iterator[TestFact]:
        return (self.at(i) for i in range(len(self.names)))

    def position(self, name: str) -> int | None:
        try:
            return self.names.index(name)
        except ValueError:
            return None


@dataclass(frozen=True)
class RunFacts:
    """One run, as the history commands see it."""
    suite: str
    verdict: str
    started: str                     # UTC ISO 8601 (the run's own clock)
    duration_s: float
    base_seed: int | None
    pythonhashseed: str | None       # None or "random": hash order not reproducible
    environment: str                 # digest of the environment block every record carries
    platform: str                    # "Linux x86_64 CPython 3.11.7"
    mode: str                        # serial | xdist, "+coverage" when coverage was measured
    partial: str | None              # how a partial run selected its tests (-k, node ids)
    tree: str | None
    commit: str | None
    dirty_diff: str | None           # the dirty diff's path on the branch, when dirty
    tests: Tests

    def test(self, name: str) -> TestFact | None:
        i = self.tests.position(name)
        return None if i is None else self.tests.at(i)

    def passed_failed(self) -> tuple[int, int]:
        codes = self.tests.codes
        return codes.count("P") + codes.count("X"), codes.count("F") + codes.count("E")

    def pass_rate(self) -> float | None:
        """Passed over passed and failed (skips and xfails count for neither); None: neither."""
        passed, failed = self.passed_failed()
        return passed / (passed + failed) if passed + failed else None


def _digest(value: Any) -> str:
    return hashlib.sha256(canonical_json(value)).hexdigest()[:16]


def _text(value: Any, what: str, optional: bool = True) -> str | None:
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise FactsError(f"{what} is not text")
    return value


def mode_of(run: Mapping[str, Any]) -> str:
    """serial or xdist (the run had xdist workers), with "+coverage" when pytest-cov measured."""
    workers = run.get("xdist_workers")
    base = XDIST if isinstance(workers, int) and not isinstance(workers, bool) and workers > 0 \
        else SERIAL
    args = (run.get("pytest") or {}).get("args") if isinstance(run.get("pytest"), dict) else None
    covered = isinstance(args, list) and any(isinstance(a, str) and (a == "--cov" or a.startswith("--cov="))
                                             for a in args)
    return f"{base}+{COVERAGE}" if covered else base


def platform_of(environment: Mapping[str, Any]) -> str:
    parts = [environment.get(k) for k in ("os", "arch", "python_implementation", "python_version")]
    return " ".join(str(p) for p in parts if isinstance(p, (str, int, float)) and p != "")


def _statuses(attempts: Any, what: str) -> tuple[str, ...]:
    if attempts is None:
        return ()
    if not isinstance(attempts, list):
        raise FactsError(f"{what}: attempts is not a list")
    out = []
    for attempt in attempts:
        status = attempt.get("status") if isinstance(attempt, dict) else None
        if not isinstance(status, str) or status not in CODE:
            raise FactsError(f"{what}: an attempt has no known status")
        out.append(STATUS_OF[CODE[status]])
    return tuple(out)


def _duration_ms(timing: Any, kind: str, number: int) -> float:
    if timing is None:
        return 0.0
    # type() is: a bool is not a nanosecond count (and this runs 1.5 million times a build)
    if type(timing) is not list or len(timing) < 2 or type(timing[0]) is not int \
            or type(timing[1]) is not int:
        raise FactsError(f"{kind} {number}: timing is not [start_ns, end_ns, …]")
    return max(0, timing[1] - timing[0]) / 1e6


class _Columns:
    """Tests gathered one by one into columns."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.codes: list[str] = []
        self.durations: list[float] = []
        self.seeds: dict[int, int] = {}
        self.states: dict[int, str] = {}
        self.attempts: dict[int, tuple[str, ...]] = {}

    def add(self, item: dict[str, Any], kind: str, number: int, duration: float, seed: Any,
            states: str, attempts: Any) -> None:
        """One test (the line's or record's place, `kind number`, is only formatted for an
        error: this runs for every test of every run)."""
        name, status = item.get("test_name"), item.get("status")
        if type(name) is not str or type(status) is not str or status not in CODE:
            raise FactsError(f"{kind} {number} has no test name or no known status")
        i = len(self.names)
        self.names.append(sys.intern(name))
        self.codes.append(CODE[status])
        self.durations.append(duration)
        if seed is not None:
            if type(seed) is not int:
                raise FactsError(f"{kind} {number}: seed is not a whole number")
            self.seeds[i] = seed
        if states:
            self.states[i] = states
        if attempts is not None:
            found = _statuses(attempts, f"{kind} {number}")
            if found:
                self.attempts[i] = found

    def tests(self) -> Tests:
        return Tests(tuple(self.names), "".join(self.codes), tuple(self.durations), self.seeds,
                     self.states, self.attempts)


def add_line(columns: _Columns, line: Any, number: int) -> None:
    """A compact line's test (core/compact.py)."""
    if type(line) is not dict:
        raise FactsError(f"line {number} is not an object")
    stored = line.get("rng_state")
    if stored is not None and type(stored) is not dict:
        raise FactsError(f"line {number}: rng_state is not an object")
    columns.add(line, "line", number, _duration_ms(line.get("timing"), "line", number),
                line.get("seed"), _digest(stored) if stored else "", line.get("attempts"))


def add_record(columns: _Columns, record: Any, number: int, seeded: bool) -> None:
    """A full-format record (runs of the first format): states count as its seed's when the
    run reseeded every test."""
    what = f"record {number}"
    if not isinstance(record, dict):
        raise FactsError(f"{what} is not an object")
    duration = record.get("duration_ms")
    if isinstance(duration, bool) or not isinstance(duration, (int, float)):
        raise FactsError(f"{what}: duration_ms is not a number")
    states = record.get("rng_state")
    own_seed = record.get("determinism_check") == "seeded" and seeded
    columns.add(record, "record", number, max(0.0, float(duration)), record.get("seed"),
                "" if own_seed or not states else _digest(states), record.get("attempts"))


def run_facts(run: Mapping[str, Any], environment: Mapping[str, Any], base_seed: int | None,
              tests: Tests) -> RunFacts:
    """The run's facts from its run block (the header's `run`), the environment block every
    record carries and its tests."""
    source = run.get("source") if isinstance(run.get("source"), dict) else {}
    assert isinstance(source, dict)
    selection = run.get("selection")
    partial = selection.get("text") if isinstance(selection, dict) else None
    hashseed = run.get("pythonhashseed")
    return RunFacts(
        # A shard of a sharded run counts under the run's suite (`tests~2of3` is `tests`):
        # each test lands in one shard of every sharded run, so its outcomes line up.
        suite=run_suite(_text(run.get("suite"), "the suite", optional=False) or ""),
        verdict=str(run.get("verdict")) if isinstance(run.get("verdict"), str) else "",
        started=str(run.get("started")) if isinstance(run.get("started"), str) else "",
        duration_s=round(sum(tests.durations) / 1000.0, 6),
        base_seed=base_seed, pythonhashseed=str(hashseed) if hashseed is not None else None,
        environment=_digest(dict(environment)), platform=platform_of(environment),
        mode=mode_of(run), partial=str(partial) if isinstance(partial, str) else None,
        tree=_text(source.get("tree"), "the source tree"),
        commit=_text(source.get("commit"), "the source commit"),
        dirty_diff=_text(source.get("dirty_diff_path"), "the dirty diff's path")
        if source.get("dirty") else None,
        tests=tests)


def facts_from_compact(data: bytes, where: str) -> RunFacts:
    """A compact run file's facts; FactsError names what is wrong. The test lines are parsed
    as one JSON array (one call instead of one per line)."""
    try:
        compact = parse_compact(data, where)
    except CompactError as exc:
        raise FactsError(str(exc)) from None
    for number, raw in enumerate(compact.lines, 2):
        if len(raw) > MAX_LINE:
            raise FactsError(f"{where}: line {number} is larger than {MAX_LINE} bytes")
    try:
        lines = json.loads(b"[" + b",".join(compact.lines) + b"]")
    except (ValueError, RecursionError):
        raise FactsError(f"{where}: a test line is not JSON") from None
    if type(lines) is not list or len(lines) != len(compact.lines):
        raise FactsError(f"{where}: a test line is not one JSON value")
    columns = _Columns()
    try:
        for number, line in enumerate(lines, 2):
            add_line(columns, line, number)
    except FactsError as exc:
        raise FactsError(f"{where}: {exc}") from None
    defaults = compact.defaults
    return run_facts(compact.run, defaults.environment, defaults.base_seed, columns.tests())


def facts_from_full(data: bytes, where: str) -> RunFacts:
    """A run file of the first format (`runs/…__run.json`)."""
    try:
        doc = branchjson.loads(data)
    except ValueError as exc:
        raise FactsError(f"{where} is {exc}") from None
    run = doc.get("run") if isinstance(doc, dict) else None
    records = doc.get("records") if isinstance(doc, dict) else None
    if not isinstance(run, dict) or not isinstance(records, list):
        raise FactsError(f"{where} is not a recorded run (no run block or records)")
    seeded = run.get("reseed", True) is not False
    columns = _Columns()
    try:
        for number, record in enumerate(records, 1):
            add_record(columns, record, number, seeded)
    except FactsError as exc:
        raise FactsError(f"{where}: {exc}") from None
    environment = records[0].get("environment") if records and isinstance(records[0], dict) \
        else run.get("environment")
    base = run.get("base_seed")
    return run_facts(run, environment if isinstance(environment, dict) else {},
                     base if isinstance(base, int) and not isinstance(base, bool) else None,
                     columns.tests())


def facts_from_file(data: bytes, artifact: str, where: str) -> RunFacts:
    return facts_from_compact(data, where) if artifact.endswith(".jsonl") \
        else facts_from_full(data, where)


# -- the cache's form ------------------------------------------------------------------------

def as_json(facts: RunFacts) -> dict[str, Any]:
    """What the cache keeps: the columns as JSON (sparse ones keyed by position)."""
    t = facts.tests
    return {"suite": facts.suite, "verdict": facts.verdict, "started": facts.started,
            "duration_s": facts.duration_s, "base_seed": facts.base_seed,
            "pythonhashseed": facts.pythonhashseed, "environment": facts.environment,
            "platform": facts.platform, "mode": facts.mode, "partial": facts.partial,
            "tree": facts.tree, "commit": facts.commit, "dirty_diff": facts.dirty_diff,
            "names": list(t.names), "codes": t.codes, "durations": list(t.durations),
            "seeds": {str(i): v for i, v in t.seeds.items()},
            "states": {str(i): v for i, v in t.states.items()},
            "attempts": {str(i): list(v) for i, v in t.attempts.items()}}


def from_json(data: Any) -> RunFacts:
    """The cache's form back; FactsError when it is not what as_json wrote."""
    try:
        names = tuple(sys.intern(str(n)) for n in data["names"])
        codes, durations = str(data["codes"]), tuple(float(d) for d in data["durations"])
        if len(codes) != len(names) or len(durations) != len(names) \
                or not set(codes) <= set(STATUS_OF):
            raise ValueError("columns of different lengths")
        tests = Tests(names, codes, durations,
                      {int(i): int(v) for i, v in data["seeds"].items()},
                      {int(i): str(v) for i, v in data["states"].items()},
                      {int(i): tuple(STATUS_OF[CODE[str(a)]] for a in v)
                       for i, v in data["attempts"].items()})
        return RunFacts(
            suite=str(data["suite"]), verdict=str(data["verdict"]), started=str(data["started"]),
            duration_s=float(data["duration_s"]),
            base_seed=None if data["base_seed"] is None else int(data["base_seed"]),
            pythonhashseed=_opt(data["pythonhashseed"]), environment=str(data["environment"]),
            platform=str(data["platform"]), mode=str(data["mode"]), partial=_opt(data["partial"]),
            tree=_opt(data["tree"]), commit=_opt(data["commit"]),
            dirty_diff=_opt(data["dirty_diff"]), tests=tests)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FactsError(f"not a cached run ({exc!r})") from None


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)
