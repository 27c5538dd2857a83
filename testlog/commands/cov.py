"""`git testlog cov`: each selected module's tests under coverage of that module, to the ledger."""
from __future__ import annotations

import argparse

from testlog.commands.arguments import add_selection_arguments, selection_of, sign_choice
from testlog.gates.covgate import CoverageRequest, run_coverage
from testlog.gates.outcome import finish, json_mode
from testlog.gates.selection import select
from testlog.gates.workspace import open_workspace

HELP = "measure the coverage of modules with their own tests and append it to the ledger"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace, gate: bool = False) -> int:
    cli = {"branch": args.branch, "sign_key": sign_choice(args)}
    with json_mode(args.json) as stream:
        with open_workspace(args.repo, cli, prestart=True) as ws:
            chosen = select(ws, selection_of(args), gate=gate)
            request = CoverageRequest(chosen.description, args.jobs, not args.no_cache,
                                      args.update_manifests, gate, args.allow_empty,
                                      chosen.ranges, chosen.range_note, chosen.from_change)
            outcome = run_coverage(ws, chosen.manifests, request)
        return finish(outcome, "gate" if gate else "cov", stream if args.json else None)
