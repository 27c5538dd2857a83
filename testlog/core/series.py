"""A test's or a suite's history: its outcome strip, its duration series per kind of run
(serial, xdist and coverage runs time differently: never mixed), drift, the first failing run.
Pure."""
from __future__ import annotations

import difflib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from testlog.core.drift import Drift, Spread, drift, spread
from testlog.core.flaky import FlakyTest
from testlog.core.logview import LoggedRun
from testlog.core.runfacts import FAILING, TestFact

# One character a run in an outcome strip (a test's status, or a suite run's verdict).
STATUS_MARK = {"PASS": ".", "FAIL": "F", "ERROR": "E", "SKIP": "s", "XFAIL": "x", "XPASS": "X",
               "INTERRUPTED": "!"}


def mark(status: str) -> str:
    return STATUS_MARK.get(status, "?")


@dataclass(frozen=True)
class Point:
    run: LoggedRun
    status: str
    duration_ms: float
    seed: int | None = None

    def as_dict(self) -> dict[str, Any]:
        facts = self.run.facts
        return {"sha": self.run.sha, "started": facts.started, "time": self.run.time,
                "status": self.status, "duration_ms": round(self.duration_ms, 6),
                "mode": facts.mode, "writer": self.run.writer, "seed": self.seed,
                "base_seed": facts.base_seed, "partial": facts.partial,
                "replay": f"git testlog replay {self.run.sha[:10]}"}


@dataclass(frozen=True)
class ModeSeries:
    mode: str
    points: tuple[Point, ...]
    spread: Spread
    drift: Drift | None

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, **self.spread.as_dict(),
                "drift": self.drift.as_dict() if self.drift else None}


@dataclass(frozen=True)
class History:
    """A test's (or a suite's) history, oldest first."""
    name: str
    kind: str                          # "test" | "suite"
    points: tuple[Point, ...]
    modes: tuple[ModeSeries, ...]
    flaky: FlakyTest | None

    @property
    def strip(self) -> str:
        return "".join(mark(p.status) for p in self.points)

    @property
    def first_failing(self) -> Point | None:
        return next((p for p in self.points if p.status in FAILING or p.status == "INTERRUPTED"),
                    None)

    @property
    def last_failing(self) -> Point | None:
        return next((p for p in reversed(self.points)
                     if p.status in FAILING or p.status == "INTERRUPTED"), None)

    def as_dict(self) -> dict[str, Any]:
        first, last = self.first_failing, self.last_failing
        counts: dict[str, int] = defaultdict(int)
        for p in self.points:
            counts[p.status] += 1
        return {
            ("test_name" if self.kind == "test" else "suite"): self.name,
            "runs": len(self.points), "strip": self.strip, "outcomes": dict(sorted(counts.items())),
            "first_failing": _point_ref(first), "last_failing": _point_ref(last),
            "modes": [m.as_dict() for m in self.modes],
            "flaky": None if self.flaky is None else {
                "classification": self.flaky.classification,
                "since": _ref(self.flaky.first_seen.run),
                "evidence": list(self.flaky.evidence)},
            "points": [p.as_dict() for p in self.points]}


def _ref(run: LoggedRun) -> dict[str, Any]:
    return {"sha": run.sha, "started": run.facts.started, "time": run.time}


def _point_ref(point: Point | None) -> dict[str, Any] | None:
    return None if point is None else {**_ref(point.run), "status": point.status}


def mode_series(points: Sequence[Point]) -> tuple[ModeSeries, ...]:
    by_mode: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        by_mode[p.run.facts.mode].append(p)
    out = []
    for mode, series in sorted(by_mode.items()):
        durations = [p.duration_ms for p in series]
        out.append(ModeSeries(mode, tuple(series), spread(durations), drift(durations)))
    return tuple(out)


def test_points(runs: Iterable[LoggedRun], name: str) -> list[Point]:
    out = []
    for run in runs:
        test = run.test(name)
        if test is not None:
            out.append(test_point(run, test))
    return out


def test_point(run: LoggedRun, test: TestFact) -> Point:
    return Point(run, test.status, test.duration_ms, test.effective_seed(run.facts.base_seed))


def test_history(runs: Sequence[LoggedRun], name: str, flaky: FlakyTest | None) -> History:
    points = test_points(runs, name)
    return History(name, "test", tuple(points), mode_series(points), flaky)


def suite_runs(runs: Iterable[LoggedRun], suite: str) -> list[LoggedRun]:
    """The suite's whole runs: a partial run (-k, node ids) is named apart and is no point of
    the suite's pass rate or duration."""
    return [r for r in runs if r.facts.suite == suite and r.facts.partial is None]


def suite_history(runs: Sequence[LoggedRun], suite: str) -> History:
    points = [Point(r, r.facts.verdict, r.facts.duration_s * 1000.0) for r in suite_runs(runs, suite)]
    return History(suite, "suite", tuple(points), mode_series(points), None)


def closest_names(name: str, known: Iterable[str], count: int = 3) -> list[str]:
    """The recorded ids nearest to one that was never recorded: by spelling, and ids that
    end with what was given (a bare function name, a path relative to another rootdir)."""
    names = sorted(set(known))
    tail = [n for n in names if n.endswith(name) or n.rsplit("::", 1)[-1] == name]
    near = difflib.get_close_matches(name, names, n=count, cutoff=0.5)
    return list(dict.fromkeys(tail + near))[:count]


RECORDED_LIMIT = 50


def recorded_durations(runs: Sequence[LoggedRun], suite: str, mode: str,
                       limit: int = RECORDED_LIMIT) -> dict[str, list[float]]:
    """Each test's durations in the latest `limit` whole runs of a suite of one kind (serial,
    xdist, coverage): the variance a timing change is judged against."""
    chosen = [r for r in suite_runs(runs, suite) if r.facts.mode == mode][-limit:]
    found: dict[str, list[float]] = defaultdict(list)
    for run in chosen:
        for name, duration in zip(run.facts.tests.names, run.facts.tests.durations):
            found[name].append(duration)
    return dict(found)
