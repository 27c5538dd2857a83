"""Where a replay report goes: one commit on the log branch (REPLAY_VERIFIED or REPLAY_FAILED),
or, for a run read from a `--testlog-out` directory, files in that directory."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from gitstore import LogStore

from testlog.core import layout, render
from testlog.core.canonical import canonical_json
from testlog.store.events import commit_event
from testlog.core.records import dumps_normal
from testlog.store.runs import write_files
from testlog.replay.report import SCHEMA_VERSION, commit_summary, error_entries, event_of, report_md


@dataclass(frozen=True)
class Destination:
    repo: str | None            # a path in the repository whose log branch gets the commit
    branch: str
    sign_key: str | None
    no_sign: bool
    directory: str | None       # write the files here instead (a --testlog-out directory)


def report_files(data: dict[str, Any], inputs: dict[str, dict[str, Any]],
                 day: date) -> tuple[dict[str, bytes | None], dict[str, str]]:
    """(path -> bytes, or None to drop a stale error log of the same day; the paths)."""
    paths = layout.replay_paths(day, data["run"]["suite"])
    entries = error_entries(data, inputs)
    files: dict[str, bytes | None] = {
        paths["json"]: dumps_normal(data),          # report_data keeps it normal: canonical
        paths["md"]: report_md(data).encode(),
        paths["errors_log"]: render.errors_log(entries).encode() if entries else None,
        paths["errors_json"]: canonical_json({"schema_version": SCHEMA_VERSION,
                                              "replay_of": data["run"]["sha"], "errors": entries})
        if entries else None}
    return files, paths


def trailers(data: dict[str, Any]) -> dict[str, str]:
    run = data["run"]
    return {"Testlog-Replay-Of": run["sha"] or "none", "Testlog-Suite": run["suite"],
            "Testlog-Verdict": "PASS" if data["verdict"] == "VERIFIED" else "FAIL",
            "Testlog-Source-Commit": run["source_commit"] or "none",
            "Testlog-Source-Tree": run["source_tree"] or "none"}


def publish(dest: Destination, data: dict[str, Any], inputs: dict[str, dict[str, Any]],
            day: date) -> tuple[str, str | None]:
    """(where the report is, in words; the log commit or None)."""
    files, paths = report_files(data, inputs, day)
    if dest.directory is not None:
        write_files(dest.directory, files)
        return f"{os.path.join(dest.directory, paths['md'])}", None
    sign_key: str | bool | None = False if dest.no_sign else dest.sign_key
    with LogStore.open(dest.repo or ".", ref=dest.branch, sign_key=sign_key) as store:
        sha = commit_event(store, files, event=event_of(data), artifact=paths["json"],
                           verdict="PASS" if data["verdict"] == "VERIFIED" else "FAIL",
                           summary=commit_summary(data), trailers=trailers(data))
    return f"{paths['md']} on {dest.branch} (commit {sha[:10]})", sha
