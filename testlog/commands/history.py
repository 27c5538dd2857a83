"""`git testlog history [<nodeid> | --suite S]`: a test's or a suite's outcomes over time, its
durations per kind of run (serial, xdist and coverage runs are never mixed) with drift judged
against its own recorded variance, its first failing run, and since when it is flaky."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from testlog.commands.arguments import add_branch_argument
from testlog.commands.flaky import suite_view
from testlog.core.flaky import find_flaky
from testlog.core.logview import LogView
from testlog.core.series import (
    STATUS_MARK,
    History,
    Point,
    closest_names,
    suite_history,
    suite_runs,
    test_history,
)
from testlog.errors import UsageError
from testlog.store.runindex import describe_span, load_view

HELP = ("a test's (or a suite's) history: outcome strip, durations per kind of run with drift "
        "flagged against their own variance, first failing run, flaky since")
STRIP_WIDTH = 72
LEGEND = ", ".join(f"{mark} {status}" for status, mark in STATUS_MARK.items())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("nodeid", nargs="?", default=None,
                        help="a test's node id as pytest names it (default: every suite)")
    parser.add_argument("--suite", metavar="S", help="the suite's runs (or only its runs, with a "
                                                     "node id)")
    parser.add_argument("--since", metavar="DATE",
                        help="only runs committed from DATE on ('2026-11-01', '2 weeks ago')")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    view = suite_view(load_view(args.repo, args.branch, args.since,
                                notice=lambda line: print(f"git-testlog: {line}", file=sys.stderr)),
                      args.suite)
    if not view.runs:
        return say(args, "no runs recorded yet: record some with `pytest --testlog`")
    if args.nodeid is not None:
        history = one_test(view, args.nodeid)
    elif args.suite is not None:
        history = suite_history(view.runs, args.suite)
        if not history.points:
            return say(args, f"suite {args.suite} has only partial runs (-k or node ids): "
                             f"`git testlog history <nodeid>` shows a test of them")
    else:
        return every_suite(view, args)
    if args.json:
        print(json.dumps({"schema_version": 1, "command": "history", "skipped": view.skipped,
                          "note": single_note(history), **history.as_dict()},
                         sort_keys=True, indent=2))
    else:
        print("\n".join(history_lines(history, view)))
    return 0


def say(args: argparse.Namespace, note: str) -> int:
    if args.json:
        print(json.dumps({"schema_version": 1, "command": "history", "note": note,
                          "runs": 0}, sort_keys=True, indent=2))
        print(f"git-testlog: {note}", file=sys.stderr)
    else:
        print(note)
    return 0


def one_test(view: LogView, nodeid: str) -> History:
    names = view.test_names()
    if nodeid not in set(names):
        near = closest_names(nodeid, names)
        hint = f"; the closest recorded: {', '.join(near)}" if near else ""
        raise UsageError(f"test {nodeid!r} was never recorded{hint}")
    flaky = next((f for f in find_flaky(view) if f.test_name == nodeid), None)
    return test_history(view.runs, nodeid, flaky)


def single_note(history: History) -> str | None:
    if len(history.points) == 1:
        return "only one run is recorded: no trend and no variance yet"
    return None


def strip_text(history: History) -> str:
    strip = history.strip
    return strip if len(strip) <= STRIP_WIDTH else "…" + strip[-STRIP_WIDTH:]


def point_text(point: Point | None) -> str:
    if point is None:
        return "none"
    return f"{point.run.sha[:10]} ({point.run.facts.started[:19]}Z, {point.status})"


def history_lines(history: History, view: LogView) -> list[str]:
    kind = "test" if history.kind == "test" else "suite"
    lines = [f"{kind} {history.name}: in {len(history.points)} of {describe_span(view)}"]
    note = single_note(history)
    if note:
        lines.append(f"  note: {note}")
    lines.append(f"  outcomes  {strip_text(history)}   (oldest → newest; {LEGEND})")
    for mode in history.modes:
        s = mode.spread
        unit = "ms"
        lines.append(f"  {mode.mode:<16} {s.count} runs  median {s.median:.3f} {unit}  "
                     f"p25–p75 {s.p25:.3f}–{s.p75:.3f} {unit}  σ {s.sigma:.3f} {unit}  "
                     + (f"DRIFT {mode.drift.text()}" if mode.drift else "steady"))
    lines.append(f"  first failing run  {point_text(history.first_failing)}")
    if history.first_failing is not None:
        lines.append(f"  last failing run   {point_text(history.last_failing)}")
    if history.kind == "test":
        if history.flaky is not None:
            since = history.flaky.first_seen.run
            lines.append(f"  flaky since {since.sha[:10]} ({since.facts.started[:10]}): "
                         f"{history.flaky.classification}")
            lines += [f"    {line}" for line in history.flaky.evidence]
        else:
            lines.append("  flaky: no (one outcome per source tree)")
        last = history.points[-1]
        lines.append(f"  replay the last run: git testlog replay {last.run.sha[:10]}")
    else:
        flaky = [f for f in find_flaky(view) if history.name in f.suites]
        lines.append(f"  flaky tests: {len(flaky)}"
                     + "".join(f"\n    {f.classification:<22} {f.test_name} (since "
                               f"{f.first_seen.run.sha[:10]})" for f in flaky))
    return lines


def every_suite(view: LogView, args: argparse.Namespace) -> int:
    histories = [suite_history(view.runs, s) for s in view.suites()]
    histories = [h for h in histories if h.points]
    if args.json:
        doc: dict[str, Any] = {"schema_version": 1, "command": "history",
                               "skipped": view.skipped,
                               "suites": [h.as_dict() for h in histories]}
        print(json.dumps(doc, sort_keys=True, indent=2))
        return 0
    print(f"{len(histories)} suite{'s' if len(histories) != 1 else ''} in {describe_span(view)}")
    for h in histories:
        runs = suite_runs(view.runs, h.name)
        rate = runs[-1].facts.pass_rate()
        print(f"  {h.name:<20} {len(h.points):>5} runs  last {h.points[-1].status:<11} "
              f"pass rate {'n/a' if rate is None else f'{100 * rate:.1f}%'}  {strip_text(h)[-40:]}")
    print("`git testlog history --suite S` or `git testlog history <nodeid>` for one")
    return 0
