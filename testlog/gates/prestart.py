"""The gates' first step, taken by the console script before the command line loads: the
project's interpreter starts importing pytest (gates.warmpython) while the rest of git-testlog
loads and asks git what changed. Light, and nothing but a guess: the workspace checks it
against the settings and the real top of the working tree before using it."""
from __future__ import annotations

import os
from collections.abc import Sequence

from testlog.core.truth import is_false
from testlog.gates.pythonpath import unconfigured_python
from testlog.gates.warmpython import start_early
from testlog.globalopts import command_and_repo


def worktree_top(path: str) -> str | None:
    """The nearest folder at or above `path` holding `.git` (a folder or a worktree's file)."""
    here = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


# The commands that run the project's tests in its working tree.
GATE_COMMANDS = ("hook", "cov", "gate", "bench")


def prestart_for(argv: Sequence[str]) -> None:
    """Prestart for a gate command (not for its --help, nor with TESTLOG_PRESTART=false; the
    other layers of that setting are read by the workspace, which then stops it)."""
    command, repo, rest = command_and_repo(argv)
    if command in GATE_COMMANDS and not {"-h", "--help"} & set(rest) and \
            not is_false(os.environ.get("TESTLOG_PRESTART", "")):
        prestart(repo)


def prestart(path: str) -> None:
    top = worktree_top(path)
    python = unconfigured_python(top) if top else None
    if top and python:
        from testlog.gates.childenv import base_env
        start_early(python, top, base_env())
