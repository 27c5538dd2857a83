"""Sharded runs on the log: the shards of one run (`pytest --testlog-shard K/N`, one commit
each, with `Testlog-Run-Id` and `Testlog-Shard: K/N` trailers) grouped by run id across every
chain, since each CI job usually writes its own. Readers (`log`, `show`, `replay`, `seal`,
`flaky`) take runs from here:

- `logged_runs(entries)`: the run commits of `history_all()`, newest first, a sharded run
  once (where its newest shard is), its shards by number, the missing ones named;
- `find_sharded_run(store, rev)`: the sharded run a shard's commit or a run id names;
- `read_logged_run(store, run)`: its run as one `{"schema_version", "run", "records"}`, the
  shards' records side by side (each exactly as recorded) under one merged run block;
- the check that refuses a shard at commit is in store/shardcheck.py (store/runs.py uses it).
"""
from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gitstore import GitStoreInputError, LogEntry, LogStore

from testlog.core import schema
from testlog.core.chronicle import TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT, TRAILER_RUN_ID
from testlog.core.shards import (
    ShardSpec,
    check_run_id,
    combined_totals,
    combined_verdict,
    disagreements,
    missing_text,
    run_suite,
)
from testlog.errors import TestlogError
from testlog.store.runs import read_run
from testlog.store.shardcheck import shard_spec

__all__ = ["LoggedRun", "Shard", "ShardedRunData", "find_sharded_run", "logged_runs",
           "read_logged_run", "read_sharded", "shard_spec", "shards_of_run"]


@dataclass(frozen=True)
class Shard:
    spec: ShardSpec
    entry: LogEntry
    chain: str                  # the ref of the chain it was reached through


@dataclass
class LoggedRun:
    """One run as readers see it: a run commit of its own (`shards` empty), or the shards of a
    sharded run recorded so far, by number (the first recorded of each number; a number
    recorded again by a writer that could not see the first is in `duplicates`)."""
    entry: LogEntry             # its commit; a sharded run's newest shard
    chain: str
    run_id: str | None = None
    count: int = 1
    shards: dict[int, Shard] = field(default_factory=dict)
    duplicates: list[Shard] = field(default_factory=list)

    @property
    def sharded(self) -> bool:
        return self.run_id is not None

    @property
    def missing(self) -> list[int]:
        return [k for k in range(1, self.count + 1) if k not in self.shards] \
            if self.sharded else []

    @property
    def complete(self) -> bool:
        return not self.missing

    def ordered(self) -> list[Shard]:
        return [self.shards[k] for k in sorted(self.shards)]

    def missing_line(self) -> str | None:
        """Which shards are missing, in one line; None when none is."""
        return missing_text(str(self.run_id), self.count, self.missing) if self.missing else None


def _add(run: LoggedRun, shard: Shard) -> None:
    held = run.shards.get(shard.spec.index)
    if held is None:
        run.shards[shard.spec.index] = shard
    elif shard.entry.timestamp < held.entry.timestamp:      # the first recorded wins
        run.shards[shard.spec.index] = shard
        run.duplicates.append(held)
    else:
        run.duplicates.append(shard)


def logged_runs(entries: Iterable[tuple[LogEntry, str]]) -> list[LoggedRun]:
    """The runs among `entries` ((commit, chain ref), newest first, as `history_all` gives
    them): each run commit, a sharded run once, at its newest shard. Shards of one run id that
    disagree on the number of shards are read with the first one's count."""
    out: list[LoggedRun] = []
    sharded: dict[str, LoggedRun] = {}
    for entry, chain in entries:
        if entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
            continue
        spec = shard_spec(entry)
        if spec is None:
            out.append(LoggedRun(entry, chain))
            continue
        run = sharded.get(spec.run_id)
        if run is None:
            run = sharded[spec.run_id] = LoggedRun(entry, chain, spec.run_id, spec.count)
            out.append(run)
        if spec.count == run.count:
            _add(run, Shard(spec, entry, chain))
    return out


def shards_of_run(store: LogStore, run_id: str) -> LoggedRun | None:
    """The sharded run `run_id` names, from every chain; None when no shard has that id."""
    entries = store.history_all(grep=f"{TRAILER_RUN_ID}: {run_id}")
    found = [run for run in logged_runs(entries) if run.run_id == run_id]
    return found[0] if found else None


def find_sharded_run(store: LogStore, rev: str) -> LoggedRun | None:
    """The sharded run named by `rev`: a shard's commit (sha, abbreviation, `testlog~2`) or a
    run id. None when `rev` is a commit that is no shard; an unknown revision that is no
    recorded run id is the store's error."""
    try:
        sha = store.resolve(rev)
    except GitStoreInputError:
        try:
            found = shards_of_run(store, check_run_id(rev, "the command line"))
        except ValueError:
            found = None
        if found is None:
            raise
        return found
    spec = shard_spec(store.entry(sha))
    return shards_of_run(store, spec.run_id) if spec is not None else None


# -- one run from its shards -------------------------------------------------------------------

@dataclass
class ShardedRunData:
    """A sharded run read back: each shard's run ({"run", "records"}) by number."""
    run: LoggedRun
    parts: list[tuple[Shard, dict[str, Any]]]

    def problems(self) -> list[str]:
        """What the shards do not agree on (a run they cannot be replayed as)."""
        return disagreements([(shard.spec.index, data["run"]) for shard, data in self.parts])

    def records(self) -> list[dict[str, Any]]:
        """Every shard's records, exactly as recorded, shard after shard."""
        return [record for _shard, data in self.parts for record in data["records"]]

    def merged_run(self) -> dict[str, Any]:
        """One run block for the whole run: the first shard's, with the suite less its
        `~KofN`, the shards' node ids, totals, verdict, start and end, and `shards`."""
        runs = [data["run"] for _shard, data in self.parts]
        merged = copy.deepcopy(runs[0])
        merged.pop("shard", None)
        logged = self.run
        missing = logged.missing
        merged["suite"] = run_suite(str(runs[0].get("suite")))
        merged["nodeids"] = [n for run in runs for n in (run.get("nodeids") or [])]
        merged["unfinished"] = [n for run in runs for n in (run.get("unfinished") or [])]
        merged["totals"] = combined_totals([run.get("totals") or {} for run in runs])
        merged["verdict"] = combined_verdict([str(run.get("verdict")) for run in runs], missing)
        started = [str(run["started"]) for run in runs if run.get("started")]
        finished = [str(run["finished"]) for run in runs if run.get("finished")]
        merged["started"] = min(started) if started else None
        merged["finished"] = max(finished) if finished else None
        merged["xdist_workers"] = max(int(run.get("xdist_workers") or 0) for run in runs)
        ended = [str(run["incomplete"]) for run in runs if run.get("incomplete")]
        merged["incomplete"] = logged.missing_line() or ("; ".join(ended) if ended else None)
        merged["shards"] = {
            "run_id": logged.run_id, "count": logged.count, "present": sorted(logged.shards),
            "missing": missing, "disagree": self.problems(),
            "commits": [{"index": shard.spec.index, "sha": shard.entry.sha,
                         "chain": shard.chain, "suite": data["run"].get("suite"),
                         "verdict": data["run"].get("verdict"),
                         "tests": len(data["records"])} for shard, data in self.parts],
            "duplicates": [{"index": d.spec.index, "sha": d.entry.sha, "chain": d.chain}
                           for d in logged.duplicates]}
        return merged

    def data(self) -> dict[str, Any]:
        """{"schema_version", "run", "records"}: the whole run, as `run_data` gives one run."""
        return {"schema_version": schema.RUN, "run": self.merged_run(), "records": self.records()}


def read_sharded(store: LogStore, run: LoggedRun) -> ShardedRunData:
    """Each present shard's run, read and checked as any run is (store/runs.py)."""
    if not run.shards:
        raise TestlogError(f"run {run.run_id} has no shard on the log")
    return ShardedRunData(run, [(shard, read_run(store, shard.entry.sha)[1])
                                for shard in run.ordered()])


def read_logged_run(store: LogStore, run: LoggedRun) -> dict[str, Any]:
    """{"schema_version", "run", "records"} of a run as readers see it: a run commit's own, or
    a sharded run's shards merged (see ShardedRunData.merged_run: `run["shards"]` says which
    shards are present, missing, or disagree)."""
    if run.sharded:
        return read_sharded(store, run).data()
    return read_run(store, run.entry.sha)[1]
