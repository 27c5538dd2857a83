"""`git testlog bench`: each selected module's benchmarks -> p50/p95/p99 -> ledger, SLO gate."""
from __future__ import annotations

import argparse

from testlog.commands.arguments import add_selection_arguments, selection_of, sign_choice
from testlog.gates.bench import run_bench
from testlog.gates.selection import select
from testlog.gates.workspace import open_workspace

HELP = ("run the selected modules' benchmarks (tests/benchmarks/), append p50/p95/p99 to the "
        "ledger and check p95 against each module's SLA (exit 1 on a violation)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cli = {"branch": args.branch, "sign_key": sign_choice(args)}
    with open_workspace(args.repo, cli) as ws:
        manifests, selection = select(ws, selection_of(args))
        return run_bench(ws, manifests, selection, jobs=args.jobs, use_cache=not args.no_cache,
                         update=args.update_manifests)
