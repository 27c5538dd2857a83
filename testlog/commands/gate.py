"""`git testlog gate`: coverage of the selected modules against their lane targets, their base
(delta) and the changed lines (patch)."""
from __future__ import annotations

import argparse

from testlog.commands import cov
from testlog.commands.arguments import add_selection_arguments

HELP = ("check the selected modules' coverage against their targets, against their base "
        "(max_drop) and on the changed lines (patch_target); exit 1 on a violation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    return cov.run(args, gate=True)
