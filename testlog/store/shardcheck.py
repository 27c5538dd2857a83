"""The check that refuses a shard at commit: its number is already recorded for its run id
(or its run was recorded in another number of shards) on this repository's chains. Apart from
store/shards.py, which reads runs through store/runs.py, which commits through here."""
from __future__ import annotations

from gitstore import LogEntry, LogStore

from testlog.core.chronicle import TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT, TRAILER_RUN_ID, TRAILER_SHARD
from testlog.core.shards import ShardSpec, commit_conflict, parse_trailer
from testlog.errors import TestlogError


def shard_spec(entry: LogEntry) -> ShardSpec | None:
    """The shard a run commit records, from its trailers; None for any other commit."""
    if entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
        return None
    return parse_trailer(entry.trailers.get(TRAILER_RUN_ID), entry.trailers.get(TRAILER_SHARD))


def recorded_shards(store: LogStore, run_id: str) -> list[tuple[ShardSpec, str]]:
    """The shards of `run_id` on every chain here: (spec, "commit <sha> on <chain>") each."""
    found = []
    for entry, chain in store.history_all(grep=f"{TRAILER_RUN_ID}: {run_id}"):
        spec = shard_spec(entry)
        if spec is not None and spec.run_id == run_id:
            found.append((spec, f"commit {entry.sha[:10]} on {chain}"))
    return found


def check_shard(store: LogStore, spec: ShardSpec) -> None:
    """Refuse (ShardRefused, one line) shard `spec` when its number is already recorded for its
    run id, or the run was recorded in another number of shards. Called with the commit the
    shard is built on as the tip, again whenever another writer moved it (store/events.py):
    two processes committing the same shard into one repository cannot both pass."""
    problem = commit_conflict(spec, recorded_shards(store, spec.run_id))
    if problem is not None:
        raise ShardRefused(problem)


class ShardRefused(TestlogError):
    """A shard whose number its run already has: refused at commit, nothing written."""
