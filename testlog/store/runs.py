"""Recorded runs on the log branch: committing one (its files and its chronicle event), and
reading them back, whichever their format (for log, show, replay and audit)."""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from typing import Any

from gitstore import GitStoreError, LogEntry, LogStore, path_problem

from testlog.core import branchjson, layout, schema, timing_summary
from testlog.core.canonical import dumps_normal, record_signature
from testlog.core.chronicle import TEST_SUITE_EXECUTED
from testlog.core.compact import (
    CompactError,
    CompactRun,
    iter_records,
    parse_compact,
    records_digest,
)
from testlog.core.layout import (
    TRAILER_EVENT,
    TRAILER_RUN_ID,
    TRAILER_SELECTION,
    TRAILER_SHARD,
    TRAILER_SOURCE_COMMIT,
    TRAILER_SOURCE_TREE,
    TRAILER_SUITE,
    TRAILER_VERDICT,
)
from testlog.core.runfiles import RunBundle
from testlog.core.runshape import determinism_problem, event_problem, run_problem
from testlog.core.schema import check_version
from testlog.core.shards import parse_trailer
from testlog.core.spec_files import spec_files
from testlog.errors import TestlogError, UsageError
from testlog.rng import seeded_digest
from testlog.store.events import commit_event, event_of
from testlog.store.shardcheck import check_shard

# -- committing ----------------------------------------------------------------------------

def commit_run(store: LogStore, bundle: RunBundle) -> str:
    """One commit on the log branch holding the run; returns its sha. A shard whose number its
    run already has on this repository's chains is refused (store/shards.ShardRefused)."""
    spec = parse_trailer(bundle.trailers.get(TRAILER_RUN_ID), bundle.trailers.get(TRAILER_SHARD))
    check = None if spec is None else (lambda _parent: check_shard(store, spec))
    return commit_event(store, bundle.files, event=TEST_SUITE_EXECUTED, artifact=bundle.artifact,
                        verdict=bundle.verdict, summary=bundle.summary, trailers=bundle.trailers,
                        check_parent=check)


def committed_already(store: LogStore, bundle: RunBundle, since_s: int,
                      limit: int = 50) -> str | None:
    """The commit that added this very run to the branch (its run file, byte for byte: it
    holds every test's timestamps, so no other session writes the same bytes), looking back
    from the tip over the commits made since `since_s` (the session's start, in epoch
    seconds); None when there is none. Later commits of other runs may sit on top of it."""
    if store.tip is None:
        return None
    data, found = bundle.files[bundle.artifact], None
    for entry in store.history(limit=limit):
        if entry.timestamp < since_s:
            break
        try:
            holds = store.read(bundle.artifact, entry.sha) == data
        except GitStoreError:
            holds = False
        if holds:
            found = entry.sha
        elif found is not None:
            break                 # the commit before it did not hold it: found added it
    return found


def out_dir_files(bundle: RunBundle, previous_summary: bytes | None = None,
                  rename: Callable[[list[str]], list[str]] | None = None
                  ) -> dict[str, bytes | None]:
    """What --testlog-out writes: the run's files with the full format's run.json, timing.json
    and determinism.json rendered beside the compact run file (readers without git want the
    spec's files), and the directory's timing summary with this run's samples added (the
    names it carries on rewritten by `rename`, see write_run_dir)."""
    files: dict[str, bytes | None] = dict(bundle.files)
    written = {p: d for p, d in bundle.files.items() if d is not None}
    rendered = with_spec_files(written)
    files.update(rendered)
    timing = rendered.get(layout.sibling_path(bundle.artifact, "timing", "json"))
    rows = json.loads(timing)["tests"] if timing is not None else []
    previous = timing_summary.parse_summary(previous_summary)
    if rename is not None:
        previous = timing_summary.renamed(previous, rename)
    summary = timing_summary.updated_summary(previous,
                                             [(r["test_name"], r["duration_ms"]) for r in rows])
    files[layout.TIMING_SUMMARY] = dumps_normal(summary)
    return files


def run_dir_holds(directory: str, bundle: RunBundle) -> bool:
    """Whether `directory` already holds every file of the run, byte for byte (the timing
    summary aside: it is the directory's own)."""
    for path, data in out_dir_files(bundle).items():
        if path == layout.TIMING_SUMMARY:
            continue
        target = os.path.join(directory, *path.split("/"))
        try:
            with open(target, "rb") as handle:
                if data is None or handle.read() != data:
                    return False
        except OSError:
            if data is not None:
                return False
    return True


def write_run_dir(directory: str, bundle: RunBundle,
                  rename: Callable[[list[str]], list[str]] | None = None) -> list[str]:
    """--testlog-out: the run's files under `directory` (see `out_dir_files`); `rename`
    rewrites the test names the directory's timing summary carries on (redaction: a secret
    recorded in an earlier run's node id does not stay there)."""
    summary_path = os.path.join(directory, *layout.TIMING_SUMMARY.split("/"))
    try:
        with open(summary_path, "rb") as handle:
            previous: bytes | None = handle.read()
    except FileNotFoundError:
        previous = None
    return write_files(directory, out_dir_files(bundle, previous, rename))


def write_files(directory: str, files: dict[str, bytes | None]) -> list[str]:
    """Branch paths written under `directory` as files (None deletes); the paths written.
    A path that would leave `directory` is refused before anything is written."""
    for path in files:
        if path_problem(path) is not None:
            raise TestlogError(f"refusing to write {path!r} under {directory}: "
                               f"{path_problem(path)}")
    written = []
    for path, data in sorted(files.items()):
        target = os.path.join(directory, *path.split("/"))
        if data is None:
            if os.path.exists(target):
                os.unlink(target)
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        written.append(path)
    return written


# -- reading --------------------------------------------------------------------------------

_SUMMARY = re.compile(rf"^{TEST_SUITE_EXECUTED} (?P<suite>\S+) (?P<verdict>PASS|FAIL|ERROR|INTERRUPTED) "
                      r"(?P<passed>\d+) passed (?P<failed>\d+) failed( (?P<not_run>\d+) not run)?$")


def _trailer_sha(value: str | None) -> str | None:
    return None if value in (None, "", "none") else value


def run_info(entry: LogEntry) -> dict[str, Any] | None:
    """Suite, verdict, counts and source of a run commit, from its message alone; else None."""
    if entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
        return None
    match = _SUMMARY.match(entry.summary)
    return {"suite": entry.trailers.get(TRAILER_SUITE) or (match and match.group("suite")),
            "verdict": entry.trailers.get(TRAILER_VERDICT) or (match and match.group("verdict")),
            "passed": int(match.group("passed")) if match else None,
            "failed": int(match.group("failed")) if match else None,
            "not_run": int(match.group("not_run") or 0) if match else None,
            "selection": entry.trailers.get(TRAILER_SELECTION) or None,
            "source_commit": _trailer_sha(entry.trailers.get(TRAILER_SOURCE_COMMIT)),
            "source_tree": _trailer_sha(entry.trailers.get(TRAILER_SOURCE_TREE))}


def commit_event_record(store: LogStore, entry: LogEntry) -> dict[str, Any]:
    """The chronicle event the commit recorded (see store.events.event_of), checked for the
    types readers use."""
    event = event_of(store, entry)
    if event is None:
        raise TestlogError(f"{entry.sha[:10]} has no chronicle event (not written by "
                           "git-testlog?)")
    problem = event_problem(event)
    if problem is not None:
        raise TestlogError(f"{entry.sha[:10]}: {problem} (the log branch was edited by hand?)")
    return event


def run_entry(store: LogStore, rev: str | None) -> tuple[LogEntry, str]:
    """(the commit, its run file's path) of a run; a clear error for any other commit."""
    entry = store.history(rev=rev, limit=1)[0]
    event = commit_event_record(store, entry)
    if event.get("event") != TEST_SUITE_EXECUTED or entry.trailers.get(TRAILER_EVENT) != TEST_SUITE_EXECUTED:
        raise UsageError(f"{rev or entry.sha[:10]} is not a test run (it records "
                           f"{event.get('event', 'something else')}); see `git testlog log --runs`")
    artifact = event.get("artifact")
    if not isinstance(artifact, str) or not layout.is_run_file(artifact):
        raise TestlogError(f"{entry.sha[:10]} names no run file ({artifact!r})")
    return entry, artifact


def read_json(store: LogStore, path: str, sha: str) -> dict[str, Any]:
    """A JSON file of a run; refuses a newer schema and a hand-edited or hostile file."""
    return parse_run_json(store.read(path, sha), f"{path} at {sha[:10]}")


def parse_run_json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = branchjson.loads(raw)
    except ValueError as exc:
        raise TestlogError(f"{where} is {exc} (edited by hand?)") from None
    if not isinstance(data, dict):
        raise TestlogError(f"{where} is not a JSON object (edited by hand?)")
    check_version(data.get("schema_version"), schema.RUN, where, missing=0)
    return data


def run_data(raw: bytes, artifact: str, where: str) -> dict[str, Any]:
    """{"schema_version", "run", "records"} of a run file, whichever its format: a compact
    file's records are rebuilt (and checked against the digest the recorder wrote)."""
    if not artifact.endswith(".jsonl"):
        try:
            data = branchjson.loads(raw)
        except ValueError as exc:
            raise TestlogError(f"{where} is {exc} (edited by hand?)") from None
        check_run_data(data, where)
        check_version(data.get("schema_version"), schema.RUN, where, missing=0)
        return data
    try:
        run = parse_compact(raw, where)
        records = list(iter_records(run, seeded_digest))
    except CompactError as exc:
        raise TestlogError(f"{where}: {exc}") from None
    check_records_digest(run, records, where)
    data = {"schema_version": schema.RUN, "run": run.run, "records": records}
    problem = run_problem(data)
    if problem is not None:
        raise TestlogError(f"{where}: {problem} (edited by hand?)")
    return data


def check_records_digest(run: CompactRun, records: list[dict[str, Any]], where: str) -> None:
    if records_digest([r["signature"] for r in records]) != run.records_sha256:
        raise TestlogError(f"{where}: the records rebuilt from it differ from those recorded "
                           "(edited by hand?); `git testlog verify` checks the log")


def read_run(store: LogStore, rev: str | None) -> tuple[LogEntry, dict[str, Any]]:
    """(the commit, the run: {"schema_version", "run", "records"}) of a run."""
    entry, artifact = run_entry(store, rev)
    where = f"{artifact} at {entry.sha[:10]}"
    return entry, run_data(store.read(artifact, entry.sha), artifact, where)


def check_run_data(data: Any, where: str) -> dict[str, Any]:
    """`data` if it is a run as the recorder wrote it: every field readers use of the right
    type (core/runshape.py), and every record matching its digest (its `signature` field)."""
    records = data.get("records") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(data.get("run"), dict) \
            or not isinstance(records, list) \
            or not all(isinstance(r, dict) and isinstance(r.get("test_name"), str) for r in records):
        raise TestlogError(f"{where} is not a recorded run (no run block or records)")
    for record in records:
        if record.get("signature") != record_signature(record):
            raise TestlogError(f"record {record['test_name']!r} in {where} does not match its "
                               "digest (edited by hand?); `git testlog verify` checks the log")
    problem = run_problem(data)
    if problem is not None:
        raise TestlogError(f"{where} is not a recorded run ({problem})")
    return data


def check_determinism(data: Any, where: str) -> dict[str, Any]:
    problem = determinism_problem(data)
    if problem is not None:
        raise TestlogError(f"{where}: {problem}")
    return data


def run_summary(store: LogStore, sha: str, artifact: str) -> tuple[str, dict[str, Any]]:
    """(summary.md text, summary.json) of the run whose run.json is `artifact`."""
    try:
        layout.sibling_path(artifact, "summary", "md")
    except ValueError:
        raise TestlogError(f"{artifact!r} at {sha[:10]} is not a run file's path "
                           "(the log branch was edited by hand?)") from None
    md = store.read(layout.sibling_path(artifact, "summary", "md"), sha).decode("utf-8", "replace")
    return md, read_json(store, layout.sibling_path(artifact, "summary", "json"), sha)


def with_spec_files(files: dict[str, bytes]) -> dict[str, bytes]:
    """`files` plus, for each compact run file among them (also under a prefix such as
    superseded/<commit>/), the full format's files rendered from it: what auditors get from
    `export` and `seal`. A damaged run file is an error naming it."""
    out = dict(files)
    for path in sorted(files):
        cut = path.rfind("runs/")
        own, prefix = path[cut:], path[:cut]
        if cut < 0 or not own.endswith(".jsonl") or not layout.is_run_file(own):
            continue
        det_path = prefix + layout.sibling_path(own, "determinism", "json")
        try:
            determinism = branchjson.loads(files[det_path]) if det_path in files else None
            rendered = spec_files(own, files[path], determinism, seeded_digest)
        except (ValueError, CompactError) as exc:
            raise TestlogError(f"{path} cannot be rendered in the full format: {exc}") from None
        out.update({prefix + p: data for p, data in rendered.items()})
    return out
