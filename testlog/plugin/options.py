"""The pytest options of replay, declared by plugin.py (cheap: nothing else is imported)."""
from __future__ import annotations

from typing import Any


def add_options(group: Any) -> None:
    group.addoption(
        "--testlog-replay", default=None, metavar="REV",
        help="replay a recorded run instead of recording: REV is its log commit (sha, "
             "abbreviation, testlog~N) or a --testlog-out directory or run.json. Its tests run "
             "in the recorded order from their recorded RNG states and are judged against the "
             "record; the report is committed to the log branch. Run it in a checkout of the "
             "recorded source (`git testlog replay REV` makes one for you)")
    group.addoption("--testlog-replay-context", default=None, metavar="FILE",
                    help="settings written by `git testlog replay` (not for direct use)")
