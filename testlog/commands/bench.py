"""`git testlog bench`: each selected module's benchmarks -> p50/p95/p99 -> ledger; SLO gate and
the regression check against the base."""
from __future__ import annotations

import argparse

from testlog.commands.arguments import add_selection_arguments, selection_of, sign_choice
from testlog.gates.benchgate import BenchRequest, run_bench
from testlog.gates.outcome import finish, json_mode
from testlog.gates.selection import select
from testlog.gates.workspace import open_workspace

HELP = ("run the selected modules' benchmarks (tests/benchmarks/), append p50/p95/p99 to the "
        "ledger and check p95 against each module's SLA and its base (max_regression); exit 1 "
        "on a violation")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_selection_arguments(parser)


def run(args: argparse.Namespace) -> int:
    cli = {"branch": args.branch, "sign_key": sign_choice(args)}
    with json_mode(args.json) as stream:
        with open_workspace(args.repo, cli, prestart=True) as ws:
            chosen = select(ws, selection_of(args), gate=True)
            request = BenchRequest(chosen.description, args.jobs, not args.no_cache,
                                   args.update_manifests, args.allow_empty, chosen.ranges,
                                   chosen.from_change)
            outcome = run_bench(ws, chosen.manifests, request)
        return finish(outcome, "bench", stream if args.json else None)
