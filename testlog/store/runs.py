"""Committing a recorded run: its files, the updated timing summary, one chronicle event."""
from __future__ import annotations

import json
import os
from typing import Any

from gitstore import GitStoreError, LogStore

from testlog.core import layout, timing_summary
from testlog.core.records import dumps_normal
from testlog.store.events import commit_event
from testlog.core.runfiles import EVENT, RunBundle


def run_durations(bundle: RunBundle) -> list[tuple[str, float]]:
    if bundle.durations is not None:
        return bundle.durations
    data = bundle.files.get(bundle.timing_path)
    tests = json.loads(data)["tests"] if data else []
    return [(t["test_name"], t["duration_ms"]) for t in tests]


def updated_timing_summary(previous: bytes | dict[str, Any] | None, bundle: RunBundle) -> bytes:
    """The timing summary with this run's samples added to `previous` (stored bytes, or
    already parsed by `stored_timing_summary`)."""
    parsed = previous if isinstance(previous, dict) else timing_summary.parse_summary(previous)
    summary = timing_summary.updated_summary(parsed, run_durations(bundle))
    return dumps_normal(summary)     # every float in it is already rounded


def _stored_timing_summary(store: LogStore) -> bytes | None:
    if store.tip is None:
        return None
    try:
        return store.read(layout.TIMING_SUMMARY)
    except GitStoreError:
        return None


def stored_timing_summary(store: LogStore) -> tuple[str | None, dict[str, Any]]:
    """(the branch tip, its timing summary parsed): read ahead while the tests run."""
    tip = store.tip
    return tip, timing_summary.parse_summary(_stored_timing_summary(store))


def commit_run(store: LogStore, bundle: RunBundle,
               read_ahead: tuple[str | None, dict[str, Any]] | None = None) -> str:
    """One commit on the log branch holding the run; returns its sha. `read_ahead`: what
    `stored_timing_summary` returned earlier, used while the tip has not moved since."""
    files = dict(bundle.files)
    previous: bytes | dict[str, Any] | None
    if read_ahead is not None and read_ahead[0] == store.tip:
        previous = read_ahead[1]
    else:
        previous = _stored_timing_summary(store)
    files[layout.TIMING_SUMMARY] = updated_timing_summary(previous, bundle)
    return commit_event(store, files, event=EVENT, artifact=bundle.artifact,
                        verdict=bundle.verdict, summary=bundle.summary, trailers=bundle.trailers)


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


def run_dir_holds(directory: str, bundle: RunBundle) -> bool:
    """Whether `directory` already holds every file of the run, byte for byte."""
    for path, data in bundle.files.items():
        target = os.path.join(directory, *path.split("/"))
        try:
            with open(target, "rb") as handle:
                if data is None or handle.read() != data:
                    return False
        except OSError:
            if data is not None:
                return False
    return True


def write_run_dir(directory: str, bundle: RunBundle) -> list[str]:
    """--testlog-out: the same files under `directory`, timing summary carried on from it."""
    summary_path = os.path.join(directory, layout.TIMING_SUMMARY)
    previous = open(summary_path, "rb").read() if os.path.exists(summary_path) else None
    files = {**bundle.files, layout.TIMING_SUMMARY: updated_timing_summary(previous, bundle)}
    return write_files(directory, files)


def write_files(directory: str, files: dict[str, bytes | None]) -> list[str]:
    """Branch paths written under `directory` as files (None deletes); the paths written."""
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
