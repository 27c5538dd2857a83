"""`git testlog cov`: each selected module's tests under coverage of that module, to the ledger."""
from __future__ import annotations

import argparse

from testlog.commands.arguments import add_selection_arguments, selection_of, sign_choice
from testlog.gates.coverage import run_coverage
from testlog.gates.selection import select
from testlog.gates.workspace import open_workspace

HELP = "measure the coverage of modules with their own tests and append it to the ledger"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace, gate: bool = False) -> int:
    cli = {"branch": args.branch, "sign_key": sign_choice(args)}
    with open_workspace(args.repo, cli) as ws:
        manifests, selection = select(ws, selection_of(args))
        return run_coverage(ws, manifests, selection, jobs=args.jobs, use_cache=not args.no_cache,
                            update=args.update_manifests, gate=gate)
