"""The console script `git-testlog`: for a gate command, the project's interpreter starts
before the command line loads (testlog.gates.prestart); then testlog.cli runs the command."""
from __future__ import annotations

import sys


def entry() -> None:
    from testlog.gates.prestart import prestart_for
    from testlog.gates.warmpython import discard_early
    try:
        prestart_for(sys.argv[1:])
        from testlog.cli import entry as run_command
        run_command()
    finally:
        discard_early()                   # never taken: a usage error, nothing to run
