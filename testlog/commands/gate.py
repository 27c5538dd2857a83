"""`git testlog gate`: coverage of the selected modules against their lane targets."""
from __future__ import annotations

import argparse

from testlog.commands import cov
from testlog.commands.arguments import add_selection_arguments

HELP = "check the selected modules' coverage against their targets (exit 1 on a violation)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return cov.run(args, gate=True)
