"""`git testlog flaky`: the tests whose outcome differs between runs of the same source, each
classified by the evidence the log holds (seed-dependent, nondeterministic,
environment-dependent, or undetermined and how to decide it)."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from testlog.commands.arguments import add_branch_argument
from testlog.core.flaky import FlakyTest, evidence_note, find_flaky, known_flaky, run_marks
from testlog.core.logview import LogView
from testlog.core.series import closest_names
from testlog.errors import UsageError
from testlog.store.runindex import describe_span, load_view

HELP = ("list the tests whose outcome differs between recorded runs of the same source tree "
        "(or between the attempts of one run), classified by evidence: seed-dependent, "
        "nondeterministic, environment-dependent")
SHOWN_SEEDS = 5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument("--since", metavar="DATE",
                        help="only runs committed from DATE on (as git reads dates: "
                             "'2026-11-01', '2 weeks ago')")
    parser.add_argument("--suite", metavar="S", help="only the runs of suite S")
    add_branch_argument(parser)


def suite_view(view: LogView, suite: str | None) -> LogView:
    """The view restricted to one suite; an unknown suite is one line naming the known ones."""
    if suite is None:
        return view
    if view.runs and suite not in view.suites():
        near = closest_names(suite, view.suites())
        raise UsageError(f"no run of suite {suite!r} is recorded (suites: "
                         f"{', '.join(near or view.suites())})")
    return LogView([r for r in view.runs if r.facts.suite == suite],
                   [p for p in view.replays], view.skipped, view.chains)


def run(args: argparse.Namespace) -> int:
    view = suite_view(load_view(args.repo, args.branch, args.since,
                                notice=lambda line: print(f"git-testlog: {line}", file=sys.stderr)),
                      args.suite)
    note = evidence_note(view.runs)
    flaky = find_flaky(view) if note is None or view.runs else []
    if args.json:
        print(json.dumps(document(view, flaky, note, args), sort_keys=True, indent=2))
        if note and not flaky:
            print(f"git-testlog: {note}", file=sys.stderr)
        return 0
    if note and not flaky:
        print(note)
        return 0
    print(f"{len(flaky)} flaky test{'s' if len(flaky) != 1 else ''} in {describe_span(view)}")
    for item in flaky:
        print("\n".join(lines_of(item)))
    return 0


def document(view: LogView, flaky: list[FlakyTest], note: str | None,
             args: argparse.Namespace) -> dict[str, Any]:
    return {"schema_version": 1, "command": "flaky", "runs": len(view.runs),
            "chains": view.chains, "since": args.since, "suite": args.suite, "note": note,
            "skipped": view.skipped, "flaky": [f.as_dict() for f in flaky]}


def lines_of(item: FlakyTest) -> list[str]:
    outcomes = ", ".join(f"{status} ×{n}" for status, n in item.outcomes.items())
    first, last = item.first_seen.run, item.last_seen.run
    lines = [f"{item.classification:<22} {item.test_name}",
             f"    {outcomes} in {len(item.observations)} runs; first {first.sha[:10]} "
             f"({first.facts.started[:10]}), last {last.sha[:10]} ({last.facts.started[:10]})"]
    if item.leaning:
        lines[0] += f"  (looks {item.leaning})"
    lines += [f"    {line}" for line in item.evidence]
    for o in item.attempt_runs[:3]:
        lines.append(f"    attempts in run {o.run.sha[:10]}: {', '.join(o.test.attempts)}")
    for o in item.failing_seeds[:SHOWN_SEEDS]:
        lines.append(f"    failing seed {o.seed} (--testlog-seed={o.run.facts.base_seed}): "
                     f"{o.test.status} in run {o.run.sha[:10]}")
    if len(item.failing_seeds) > SHOWN_SEEDS:
        lines.append(f"    … {len(item.failing_seeds) - SHOWN_SEEDS} more failing seeds (--json)")
    lines.append(f"    replay: {item.next_step()}")
    return lines


def flaky_marks(view: LogView) -> dict[str, dict[str, list[str]]]:
    """{run sha: {"contains": known-flaky tests it holds, "failed": those that failed in it}}
    for the runs holding any: what `log --runs` and `show` mark."""
    known = known_flaky(find_flaky(view))
    marks = {run.sha: run_marks(run, known) for run in view.runs}
    return {sha: m for sha, m in marks.items() if m["contains"]}


def mark_text(marks: dict[str, list[str]] | None) -> str:
    """`  [flaky: 1 known-flaky test failed]` (or held), "" for a run without any."""
    if not marks or not (marks.get("contains") or marks.get("failed")):
        return ""
    if marks["failed"]:
        n = len(marks["failed"])
        return f"  [flaky: {n} known-flaky test{'s' if n != 1 else ''} failed]"
    n = len(marks["contains"])
    return f"  [holds {n} known-flaky test{'s' if n != 1 else ''}]"
