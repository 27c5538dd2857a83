"""`git testlog compare <revA> <revB>`: two recorded runs side by side, nothing re-executed:
a headline of status, output, RNG and timing changes, then each group; RNG after-states that
differ because the seeds differ are counted, not listed; timing is judged against each test's
recorded variance."""
from __future__ import annotations

import argparse
import json
import sys

from testlog.commands.arguments import add_branch_argument
from testlog.config import load_settings
from testlog.core.runfacts import mode_of
from testlog.core.series import recorded_durations
from testlog.errors import UsageError
from testlog.replay.compare import TIMING_FACTOR, compare_runs, render_lines
from testlog.replay.loading import load_from_branch
from testlog.store.runindex import load_view
from testlog.store.state import open_log

HELP = ("compare two recorded runs without re-executing them: a headline of status, output, "
        "RNG and timing changes (RNG changes the seeds explain are counted, not listed; timing "
        "beyond each test's recorded variance), then each group, and tests only one run has")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev_a", metavar="revA", help="the first run's log commit")
    parser.add_argument("rev_b", metavar="revB", help="the second run's log commit")
    parser.add_argument("--timing-factor", type=float, default=TIMING_FACTOR, metavar="F",
                        help="for a test with too few recorded runs to know its variance: "
                             f"slower/faster from this factor on (default {TIMING_FACTOR})")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--exit-code", action="store_true",
                        help="exit 1 when a status or an output changed, or a test is in one run "
                             "only (like `git diff --exit-code`)")
    parser.add_argument("--strict", action="store_true",
                        help="with or without --exit-code: exit 1 when anything differs, RNG "
                             "states the seeds explain and timing included")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    if not args.timing_factor > 0:
        raise UsageError(f"--timing-factor {args.timing_factor:g}: use a factor above 0, e.g. 2")
    branch = load_settings(args.repo, {"branch": args.branch})["branch"].value
    with open_log(args.repo, branch, False) as store:
        store.require_chains()
        a = load_from_branch(store, args.rev_a)
        b = load_from_branch(store, args.rev_b)
    recorded = recorded_durations(
        load_view(args.repo, branch, replays=False,
                  notice=lambda line: print(f"git-testlog: {line}", file=sys.stderr)).runs,
        str(b.run.get("suite")), mode_of(b.run))
    result = compare_runs(a.run, a.records, b.run, b.records, factor=args.timing_factor,
                          recorded_ms=recorded)
    if args.json:
        print(json.dumps({"a": a.sha, "b": b.sha, **result.as_dict()}, sort_keys=True, indent=2))
    else:
        print("\n".join(render_lines(a.label, b.label, result)))
    if args.strict:
        return 1 if result.strict_differ else 0
    return 1 if args.exit_code and result.results_differ else 0
