"""The log as the history commands read it: every run of every writer's chain, oldest first,
and every replay with its verdict per test. Pure data (store/runindex.py fills it).

A run is one run commit for now. Sharded runs (several commits of one run id, one per CI
shard) would be grouped into one LoggedRun where store/runindex.py builds them, before any
of the analyses here sees them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from testlog.core.runfacts import RunFacts, TestFact
from testlog.core.triage import PASSING

UNKNOWN_SOURCE = "unknown"


@dataclass(frozen=True)
class LoggedRun:
    sha: str                  # the run's log commit: `git testlog replay <sha>`
    time: int                 # its commit time, seconds since the epoch
    writer: str               # the chain it was read from
    source: str               # the source it ran: tree, and the dirty diff's blob when dirty
    facts: RunFacts

    def test(self, name: str) -> TestFact | None:
        return self.facts.test(name)


@dataclass(frozen=True)
class ReplayedTest:
    name: str
    verdict: str              # core/triage levels: verified, verified-drift, minor, …
    status_recorded: str
    status_replayed: str


@dataclass(frozen=True)
class LoggedReplay:
    sha: str                  # the replay report's commit
    time: int
    writer: str
    replay_of: str            # the run's commit
    verdict: str              # VERIFIED | FAILED
    same_platform: bool
    tests: tuple[ReplayedTest, ...]

    def verified(self) -> int:
        return sum(1 for t in self.tests if t.verdict in PASSING)


@dataclass
class LogView:
    runs: list[LoggedRun] = field(default_factory=list)        # oldest first
    replays: list[LoggedReplay] = field(default_factory=list)  # oldest first
    skipped: list[str] = field(default_factory=list)           # runs not readable, one line each
    chains: int = 0

    def suites(self) -> list[str]:
        return sorted({run.facts.suite for run in self.runs})

    def test_names(self) -> list[str]:
        names: set[str] = set()
        for run in self.runs:
            names.update(run.facts.tests.names)
        return sorted(names)


def source_key(tree: str | None, dirty_blob: str | None) -> str:
    """Runs of the same source: the same tree, and the same dirty diff (byte for byte) if any."""
    if not tree:
        return UNKNOWN_SOURCE
    return f"{tree}+{dirty_blob}" if dirty_blob else tree
