"""Where a replay report goes: one commit on the log branch (REPLAY_VERIFIED or REPLAY_FAILED),
or, for a run read from a `--testlog-out` directory, files in that directory."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date
from typing import Any

from testlog.core import layout, render, schema
from testlog.core.canonical import canonical_json, dumps_normal
from testlog.core.layout import (
    TRAILER_REPLAY_OF,
    TRAILER_SOURCE_COMMIT,
    TRAILER_SOURCE_TREE,
    TRAILER_SUITE,
    TRAILER_VERDICT,
)
from testlog.replay.report import commit_summary, error_entries, event_of, report_md
from testlog.store.events import commit_event
from testlog.store.runs import write_files
from testlog.store.state import open_log


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
        paths["errors_json"]: canonical_json({"schema_version": schema.REPLAY_REPORT,
                                              "replay_of": data["run"]["sha"], "errors": entries})
        if entries else None}
    return files, paths


def trailers(data: dict[str, Any]) -> dict[str, str]:
    run = data["run"]
    return {TRAILER_REPLAY_OF: run["sha"] or "none", TRAILER_SUITE: run["suite"],
            TRAILER_VERDICT: "PASS" if data["verdict"] == "VERIFIED" else "FAIL",
            TRAILER_SOURCE_COMMIT: run["source_commit"] or "none",
            TRAILER_SOURCE_TREE: run["source_tree"] or "none"}


def publish(dest: Destination, data: dict[str, Any], inputs: dict[str, dict[str, Any]],
            day: date) -> tuple[str, str | None]:
    """(where the report is, in words; the log commit or None)."""
    files, paths = report_files(data, inputs, day)
    if dest.directory is not None:
        write_files(dest.directory, files)
        return f"{os.path.join(dest.directory, paths['md'])}", None
    sign_key: str | bool | None = False if dest.no_sign else dest.sign_key
    with open_log(dest.repo or ".", dest.branch, sign_key) as store:
        sha = commit_event(store, files, event=event_of(data), artifact=paths["json"],
                           verdict="PASS" if data["verdict"] == "VERIFIED" else "FAIL",
                           summary=commit_summary(data), trailers=trailers(data))
    return f"{paths['md']} on {dest.branch} (commit {sha[:10]})", sha
