"""`git testlog compare <revA> <revB>`: two recorded runs side by side, nothing re-executed."""
from __future__ import annotations

import argparse
import json

from testlog.commands.arguments import add_branch_argument
from testlog.config import load_settings
from testlog.errors import UsageError
from testlog.replay.compare import TIMING_FACTOR, compare_runs, render_lines
from testlog.replay.loading import load_from_branch
from testlog.store.state import open_log

HELP = ("compare two recorded runs without re-executing them: tests whose status, result "
        "hash, RNG after-state or timing changed, and tests only one run has")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev_a", metavar="revA", help="the first run's log commit")
    parser.add_argument("rev_b", metavar="revB", help="the second run's log commit")
    parser.add_argument("--timing-factor", type=float, default=TIMING_FACTOR, metavar="F",
                        help=f"report a test as slower/faster from this factor on (default {TIMING_FACTOR})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--exit-code", action="store_true",
                        help="exit 1 when anything but timing differs (like `git diff --exit-code`)")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    if not args.timing_factor > 0:
        raise UsageError(f"--timing-factor {args.timing_factor:g}: use a factor above 0, e.g. 2")
    branch = load_settings(args.repo, {"branch": args.branch})["branch"].value
    with open_log(args.repo, branch, False) as store:
        store.require_chains()
        a = load_from_branch(store, args.rev_a)
        b = load_from_branch(store, args.rev_b)
    result = compare_runs(a.run, a.records, b.run, b.records, factor=args.timing_factor)
    if args.json:
        print(json.dumps({"a": a.sha, "b": b.sha, **result.as_dict()}, sort_keys=True, indent=2))
    else:
        print("\n".join(render_lines(a.label, b.label, result)))
    return 1 if args.exit_code and result.results_differ else 0
