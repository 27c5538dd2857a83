"""The whole log as the history commands read it (flaky, history, site, compare, log --runs):
every run and replay of every writer's chain, oldest first, in one pass.

Commits come from one walk over every chain; each run file and replay report is then read
one at a time from one `git cat-file` process (a run file may be 100 MB: never a batch of them
in memory). What is taken from a blob (core/runfacts.py) depends on its bytes alone, so it is
cached by blob id under `<git dir>/testlog/history-cache/`: a second reading of 3,000 runs
reads 3,000 small files instead of parsing every test line again. The cache is ours to
delete at any time; an entry that does not read is made again.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gitstore import (
    GitStoreError,
    LogEntry,
    LogStore,
    ObjectStream,
    approxidate,
    object_info,
)

from testlog.config import repo_settings
from testlog.core import layout, schema
from testlog.core.branchjson import MAX_BYTES
from testlog.core.branchjson import loads as branch_loads
from testlog.core.chronicle import REPLAY_FAILED, REPLAY_VERIFIED, TEST_SUITE_EXECUTED
from testlog.core.layout import TRAILER_EVENT, TRAILER_REPLAY_OF
from testlog.core.logview import LoggedReplay, LoggedRun, LogView, source_key
from testlog.core.replayfacts import replay_as_json, replay_facts, replay_from_json
from testlog.core.runfacts import FactsError, RunFacts, as_json, facts_from_file, from_json
from testlog.core.timefmt import utc_iso
from testlog.errors import TestlogError, UsageError
from testlog.parallel import ordered_results
from testlog.store.chains import known_writer_id, writer_of
from testlog.store.events import event_of
from testlog.store.ledgerfiles import ledger_lines
from testlog.store.runs import run_entry
from testlog.store.state import HISTORY_CACHE, open_configured, state_path

_REPLAYS = (REPLAY_VERIFIED, REPLAY_FAILED)


@dataclass(frozen=True)
class _Pending:
    """A commit whose artifact is to be read: a run or a replay."""
    entry: LogEntry
    ref: str
    artifact: str


def since_seconds(store: LogStore, text: str | None) -> int | None:
    """--since DATE as git reads dates (`2026-11-01`, `2 weeks ago`); one line for a date git
    cannot read (git takes those for "now")."""
    if text is None:
        return None
    try:
        moment = approxidate(store.common_dir, text)
    except GitStoreError:
        moment = None
    now = approxidate(store.common_dir, "now")
    if moment is None or (abs(moment - now) <= 2 and text.strip().lower() not in ("now", "today")):
        raise UsageError(f"--since {text!r} is not a date git reads: give e.g. 2026-11-01 or "
                         "'2 weeks ago'")
    return moment


def load_view(repo: str, branch: str | None, since: str | None = None, replays: bool = True,
              notice: Callable[[str], None] | None = None) -> LogView:
    """The log of the repository holding `repo` (every chain), from `since` (a date)."""
    values, _, common = repo_settings(repo, {"branch": branch})
    with open_configured(repo, values, sign=False) as store:
        own = known_writer_id(common, values["writer"]) or "this clone"
        return read_view(store, own, since=since_seconds(store, since), replays=replays,
                         notice=notice)


def read_view(store: LogStore, own_writer: str, *, since: int | None = None,
              replays: bool = True, notice: Callable[[str], None] | None = None) -> LogView:
    """Every run (and replay) of every chain, committed at or after `since`, oldest first.
    A run or report that cannot be read is left out and named in `view.skipped`."""
    chains = store.chains()
    view = LogView(chains=len(chains))
    if not chains:
        return view
    runs: list[_Pending] = []
    reports: list[_Pending] = []
    for entry, ref in reversed(store.history_all()):
        if since is not None and entry.timestamp < since:
            continue
        kind = entry.trailers.get(TRAILER_EVENT)
        if kind == TEST_SUITE_EXECUTED or (replays and kind in _REPLAYS):
            pending = _pending(store, entry, ref, kind == TEST_SUITE_EXECUTED, view)
            if pending is not None:
                (runs if kind == TEST_SUITE_EXECUTED else reports).append(pending)
    cache = state_path(store.common_dir, HISTORY_CACHE)
    facts = {item.entry.sha: found
             for item, found in _read_all(store, runs, cache, "runs", _run_facts, view)}
    dirty = _dirty_blobs(store, runs, facts)
    for item in runs:
        found = facts.get(item.entry.sha)
        if isinstance(found, RunFacts):
            # Shards of one run (one commit each) would be grouped into one LoggedRun here.
            view.runs.append(LoggedRun(item.entry.sha, item.entry.timestamp,
                                       writer_of(item.ref, store.ref, own_writer),
                                       source_key(found.tree, dirty.get(item.entry.sha)), found))
    for item, found in _read_all(store, reports, cache, "replays", _replay_facts, view):
        verdict, same, tests = found
        view.replays.append(LoggedReplay(
            item.entry.sha, item.entry.timestamp, writer_of(item.ref, store.ref, own_writer),
            item.entry.trailers.get(TRAILER_REPLAY_OF) or "", verdict, same, tests))
    if notice is not None:
        for line in view.skipped:
            notice(line)
    return view


def _pending(store: LogStore, entry: LogEntry, ref: str, is_run: bool,
             view: LogView) -> _Pending | None:
    event = event_of(store, entry) or {}
    artifact = event.get("artifact")
    ok = isinstance(artifact, str) and (layout.is_run_file(artifact) if is_run else
                                        _is_report(artifact))
    if not ok:
        view.skipped.append(f"{'run' if is_run else 'replay'} {entry.sha[:10]} names no "
                            f"{'run file' if is_run else 'report'} ({artifact!r}): left out")
        return None
    return _Pending(entry, ref, str(artifact))


def _is_report(path: str) -> bool:
    parsed = layout.parse_artifact(path)
    return bool(parsed and parsed["dir"] == "replays" and parsed["category"] == "replay"
                and parsed["ext"] == "json")


def _run_facts(data: bytes, item: _Pending) -> tuple[Any, dict[str, Any]]:
    facts = facts_from_file(data, item.artifact, f"{item.artifact} at {item.entry.sha[:10]}")
    return facts, as_json(facts)


def _replay_facts(data: bytes, item: _Pending) -> tuple[Any, dict[str, Any]]:
    try:
        report = branch_loads(data)
    except ValueError as exc:
        raise FactsError(f"{item.artifact} at {item.entry.sha[:10]} is {exc}") from None
    found = replay_facts(report)
    return found, replay_as_json(*found)


def _from_cache(kind: str, data: Any) -> Any:
    return from_json(data) if kind == "runs" else replay_from_json(data)


PARSE_CHUNK = 64        # run files parsed per task: a cold read of 3,000 runs uses every core


@dataclass(frozen=True)
class _Blob:
    """An item whose facts are not cached: its blob, and where its facts are to be cached."""
    position: int
    sha: str
    cache_path: str


def _read_all(store: LogStore, items: list[_Pending], cache: str, kind: str,
              parse: Callable[[bytes, _Pending], tuple[Any, dict[str, Any]]],
              view: LogView) -> Iterator[tuple[_Pending, Any]]:
    """(item, facts) for every item readable, in order: from the cache by blob id, else from
    the blob (then cached). The blobs to parse are parsed in chunks on every core."""
    if not items:
        return
    infos = object_info(store.common_dir, [f"{i.entry.sha}:{i.artifact}" for i in items])
    found: dict[int, Any] = {}
    skipped: dict[int, str] = {}
    todo: list[_Blob] = []
    for position, (item, info) in enumerate(zip(items, infos)):
        if info is None or info.kind != "blob":
            skipped[position] = f"{item.artifact} is missing: left out"
            continue
        path = os.path.join(cache, kind, info.sha[:2], info.sha + ".json")
        cached = _load(path, kind)
        if cached is not None:
            found[position] = cached
        elif info.size > MAX_BYTES:
            skipped[position] = f"{item.artifact} is larger than {MAX_BYTES} bytes: left out"
        else:
            todo.append(_Blob(position, info.sha, path))
    chunks = [todo[k:k + PARSE_CHUNK] for k in range(0, len(todo), PARSE_CHUNK)]

    def parse_chunk(index: int) -> list[tuple[Any, str | None]]:
        return _parse_blobs(store.common_dir, items, chunks[index], parse)
    with ordered_results(parse_chunk, len(chunks)) as parsed:
        fresh = (result for chunk in parsed for result in chunk)      # in the order of todo
        waiting = {blob.position for blob in todo}
        for position, item in enumerate(items):
            if position in waiting:
                facts, problem = next(fresh)
                if problem is None:
                    found[position] = facts
                else:
                    skipped[position] = (f"{problem}: left out (`git testlog verify` checks "
                                         "the log)")
            if position in skipped:
                view.skipped.append(f"{'run' if kind == 'runs' else 'replay'} "
                                    f"{item.entry.sha[:10]}: {skipped.pop(position)}")
            elif position in found:
                yield item, found.pop(position)


def _parse_blobs(common_dir: str, items: list[_Pending], blobs: list[_Blob],
                 parse: Callable[[bytes, _Pending], tuple[Any, dict[str, Any]]]
                 ) -> list[tuple[Any, str | None]]:
    """(facts, None) or (None, problem) of each blob, each cached; read one at a time (it
    may run in a forked process)."""
    out: list[tuple[Any, str | None]] = []
    with ObjectStream(common_dir) as stream:
        for blob, (_, read) in zip(blobs, stream.read_many([b.sha for b in blobs])):
            item = items[blob.position]
            try:
                if read is None:
                    raise FactsError(f"{item.artifact} cannot be read")
                facts, stored = parse(read[2], item)
            except FactsError as exc:
                out.append((None, str(exc)))
                continue
            _save(blob.cache_path, stored)
            out.append((facts, None))
    return out


def _load(path: str, kind: str) -> Any:
    try:
        with open(path, "rb") as handle:
            data = json.loads(handle.read())
        if data.get("schema_version") != schema.HISTORY_CACHE:
            return None
        return _from_cache(kind, data["facts"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _save(path: str, facts: dict[str, Any]) -> None:
    """Write atomically (a reader never sees half a file); a cache that cannot be written
    (a read-only repository) is no error."""
    temp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(temp, "w", encoding="utf-8") as handle:
            # dumps, not dump: dump streams through the pure-Python encoder, many times slower
            handle.write(json.dumps({"schema_version": schema.HISTORY_CACHE, "facts": facts},
                                    separators=(",", ":")))
        os.replace(temp, path)
    except OSError:
        try:
            os.unlink(temp)
        except OSError:
            pass


def _dirty_blobs(store: LogStore, runs: list[_Pending], facts: dict[str, Any]) -> dict[str, str]:
    """{run sha: blob id of its dirty diff} for the runs recorded in a dirty tree."""
    names = [(item.entry.sha, found.dirty_diff) for item in runs
             if isinstance(found := facts.get(item.entry.sha), RunFacts) and found.dirty_diff]
    infos = object_info(store.common_dir, [f"{sha}:{path}" for sha, path in names]) if names else []
    return {sha: info.sha if info else "missing" for (sha, _path), info in zip(names, infos)}


def describe_span(view: LogView) -> str:
    """`12 runs from 2 chains, 2026-11-01 to 2026-12-06`."""
    if not view.runs:
        return "no runs"
    first, last = view.runs[0].time, view.runs[-1].time
    return (f"{len(view.runs)} run{'s' if len(view.runs) != 1 else ''} from {view.chains} "
            f"chain{'s' if view.chains != 1 else ''}, {utc_iso(first)[:10]} to {utc_iso(last)[:10]}")


def test_status_at(repo: str, branch: str | None, rev: str, nodeid: str) -> tuple[str, str | None]:
    """(the run's full sha, the status it recorded for `nodeid`, None when it holds no such
    test) of the run at `rev`."""
    values, _, _ = repo_settings(repo, {"branch": branch})
    with open_configured(repo, values, sign=False) as store:
        entry, artifact = run_entry(store, rev)
        where = f"{artifact} at {entry.sha[:10]}"
        try:
            facts = facts_from_file(store.read(artifact, entry.sha), artifact, where)
        except FactsError as exc:
            raise TestlogError(str(exc)) from None
    found = facts.test(nodeid)
    return entry.sha, found.status if found else None


def read_ledgers(store: LogStore, notice: Callable[[str], None] | None = None
                 ) -> dict[str, list[dict[str, Any]]]:
    """{"coverage": lines, "bench": lines}: every chain's ledger, each line once, by time. A
    ledger that does not parse is left out (and said)."""
    tips = list(store.chains().values())
    return {name: ledger_lines(store.common_dir, tips, name, notice or (lambda _said: None))
            for name in (layout.COVERAGE, layout.BENCH)}
