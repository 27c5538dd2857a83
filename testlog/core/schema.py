"""The version of every format git-testlog writes, and the one rule that reads them back.

A reader accepts its own version and every older one, and refuses a newer one with one line
that says to upgrade. Versions are whole numbers; a few formats have always written theirs as
a string ("1"), and keep doing so, so that their stored bytes do not change.
"""
from __future__ import annotations

from typing import Any

from testlog.errors import TestlogError

# a run's files: runs/, summaries/, timing/, determinism/, errors/, coverage/. 2: records may
# hold subtests, attempts/flaky, benchmark and outputs.captured; totals are pytest's counts
# (with statuses, not_run, selected); verdicts ERROR and INTERRUPTED; the run block holds
# selection, capture, interruption, incomplete. Version 1 runs read as before. 3: records
# may hold `entropy` (the OS entropy the test drew: core/entropy.py), the run block
# `entropy` (captured or not) and the determinism file the collection scopes' entropy.
RUN = 3
RUN_COMPACT = 1         # runs/…__run.jsonl: the compact run file (core/compact.py)
ENTROPY = 1             # runs/…__entropy.bin: the entropy the tests drew (core/entropy.py)
TIMING_SUMMARY = 1      # timing/timing_summary.json
LEDGER = 1              # ledger/*.ndjson lines (written as "1")
MEASUREMENT = 1         # measurements/…json (written as "1")
REPLAY_REPORT = 1       # replays/…json and its error log
ROTATION = 1            # retention/rotation_*.json
EPOCH = 1               # retention/epoch_*.json
COMMIT = 2              # the Testlog-Schema trailer of every log commit (written as "2"):
                        # 1 appended its event to chronicle.ndjson, 2 carries it in a trailer
PENDING = 1             # <git dir>/testlog/pending/<id>/meta.json
VERIFIED_STATE = 1      # <git dir>/testlog/verified/<ref>.json
HISTORY_CACHE = 2       # <git dir>/testlog/history-cache/: core/runfacts.as_json per run blob


def version_of(value: Any) -> int | None:
    """The version a file names: an int, or the decimal string of one; None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def readable(value: Any, current: int, missing: int = 1) -> bool:
    """Whether a file that says version `value` (None: it says none, which means `missing`)
    is one this git-testlog reads: a whole number from 0 up to `current`."""
    version = missing if value is None else version_of(value)
    return version is not None and 0 <= version <= current


def version_problem(value: Any, current: int, missing: int = 1) -> str | None:
    """What is wrong with a file's version (to follow "<file> has "), or None when it reads."""
    if readable(value, current, missing):
        return None
    if version_of(value) is None or version_of(value) < 0:  # type: ignore[operator]
        return f"schema version {value!r}, which is not a version (edited by hand?)"
    return (f"schema version {value}, newer than this git-testlog understands ({current}): "
            "upgrade git-testlog")


def check_version(value: Any, current: int, where: str, missing: int = 1) -> None:
    """Refuse, in one line naming `where`, a version newer than `current` or not a version."""
    problem = version_problem(value, current, missing)
    if problem is not None:
        raise TestlogError(f"{where} has {problem}")
