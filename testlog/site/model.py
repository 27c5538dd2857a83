"""What the site is drawn from: the log's runs (every chain, oldest first), each test's series
across them, the flaky tests, the replays of each run and the ledgers, read once."""
from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from testlog.core.flaky import FlakyTest, evidence_note, find_flaky, run_marks
from testlog.core.logview import LoggedReplay, LoggedRun, LogView
from testlog.core.runfacts import STATUS_OF, TestFact

MODE_CLASS = {"serial": "s0", "xdist": "s1", "serial+coverage": "s2", "xdist+coverage": "s3"}


def mode_class(mode: str) -> str:
    return MODE_CLASS.get(mode, "s4")


@dataclass(frozen=True)
class Series:
    """One test across the runs that hold it, oldest first, as columns (a test page draws
    thousands of points: no object per point)."""
    runs: list[int]                  # run positions
    codes: str                       # status code per run (core/runfacts.CODE)
    durations: list[float]           # ms
    positions: list[int]             # the test's position within each run

    def __len__(self) -> int:
        return len(self.runs)

    def status(self, k: int) -> str:
        return STATUS_OF[self.codes[k]]


@dataclass
class SiteModel:
    title: str
    view: LogView
    ledgers: dict[str, list[dict[str, Any]]]
    index: dict[str, int] = field(default_factory=dict)          # run sha -> position
    tests: dict[str, list[tuple[int, int]]] = field(default_factory=dict)   # (run, position)
    flaky: list[FlakyTest] = field(default_factory=list)
    flaky_by_name: dict[str, FlakyTest] = field(default_factory=dict)
    marks: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    replays_of: dict[str, list[LoggedReplay]] = field(default_factory=dict)
    mode_classes: list[str] = field(default_factory=list)      # per run: its CSS class
    modes: list[str] = field(default_factory=list)             # per run: its kind
    days: list[str] = field(default_factory=list)              # per run: its date
    codes: list[str] = field(default_factory=list)             # per run: its status codes
    durations: list[tuple[float, ...]] = field(default_factory=list)
    note: str | None = None

    @property
    def runs(self) -> list[LoggedRun]:
        return self.view.runs

    def suites(self) -> list[str]:
        """Suites with whole runs, the most recently run first."""
        last: dict[str, int] = {}
        for i, run in enumerate(self.runs):
            if run.facts.partial is None:
                last[run.facts.suite] = i
        return sorted(last, key=lambda s: (-last[s], s))

    def suite_runs(self, suite: str) -> list[int]:
        return [i for i, r in enumerate(self.runs)
                if r.facts.suite == suite and r.facts.partial is None]

    def writers(self) -> list[str]:
        return sorted({r.writer for r in self.runs})

    def series(self, name: str) -> Series:
        refs = self.tests[name]
        codes, durations = self.codes, self.durations
        return Series([i for i, _ in refs], "".join([codes[i][p] for i, p in refs]),
                      [durations[i][p] for i, p in refs], [p for _, p in refs])

    def fact(self, series: Series, k: int) -> TestFact:
        """The k-th run's record of the test, whole (for the few rows a page lists)."""
        return self.runs[series.runs[k]].facts.tests.at(series.positions[k])


def build_model(view: LogView, ledgers: dict[str, list[dict[str, Any]]],
                repo_top: str | None) -> SiteModel:
    model = SiteModel(os.path.basename(os.path.normpath(repo_top)) if repo_top else "test log",
                      view, ledgers)
    model.note = evidence_note(view.runs)
    tests: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for i, run in enumerate(view.runs):
        model.index[run.sha] = i
        for position, name in enumerate(run.facts.tests.names):
            tests[name].append((i, position))
    model.tests = dict(sorted(tests.items()))
    model.modes = [run.facts.mode for run in view.runs]
    model.mode_classes = [mode_class(mode) for mode in model.modes]
    model.days = [run.facts.started[:10] for run in view.runs]
    model.codes = [run.facts.tests.codes for run in view.runs]
    model.durations = [run.facts.tests.durations for run in view.runs]
    model.flaky = find_flaky(view) if len(view.runs) > 1 else []
    model.flaky_by_name = {f.test_name: f for f in model.flaky}
    known = set(model.flaky_by_name)
    for run in view.runs:
        marks = run_marks(run, known)
        if marks["contains"]:
            model.marks[run.sha] = marks
    replays: dict[str, list[LoggedReplay]] = defaultdict(list)
    for replay in view.replays:
        replays[replay.replay_of].append(replay)
    model.replays_of = dict(replays)
    return model
