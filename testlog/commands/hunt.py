"""`git testlog hunt <nodeid>`: run one test under N seeds, each attempt recorded as a run, and
print the seeds it fails under with the command that replays each."""
from __future__ import annotations

import argparse
import json
import os
import threading

from gitstore import GitStoreError, locate

from testlog.commands.arguments import add_branch_argument, add_signing_arguments
from testlog.config import load_settings
from testlog.core.series import closest_names
from testlog.errors import UsageError
from testlog.gates.interpreter import project_python
from testlog.replay.hunt import Attempt, HuntRequest, NoSuchTest, hunt
from testlog.store.runindex import load_view, test_status_at

HELP = ("run one test under N seeds (each attempt recorded as a run, in parallel with -n) and "
        "print the seeds it fails under, each with the command that replays it. Exit 1 when "
        "some seed fails")
DEFAULT_SEEDS = 20


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("nodeid", help="the test's node id, as pytest names it "
                                       "(tests/test_x.py::test_y[param])")
    parser.add_argument("--seeds", type=int, default=DEFAULT_SEEDS, metavar="N",
                        help=f"how many base seeds to try (default {DEFAULT_SEEDS})")
    parser.add_argument("--start", type=int, default=1, metavar="S",
                        help="the first base seed; the others follow it (default 1: a hunt "
                             "is repeatable)")
    parser.add_argument("--until-fail", action="store_true",
                        help="start no attempt after the first failing seed")
    parser.add_argument("-n", dest="jobs", type=int, default=1, metavar="N",
                        help="run N attempts at once (default 1)")
    parser.add_argument("--python", default=None, metavar="PATH",
                        help="interpreter to run the test with (default: the `python` "
                             "setting, $VIRTUAL_ENV, the project's .venv, else this one)")
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    add_branch_argument(parser)
    add_signing_arguments(parser, "each attempt's run")


def check(args: argparse.Namespace) -> None:
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds}: give at least 1 seed to try")
    if args.jobs < 1:
        raise UsageError(f"-n {args.jobs}: give at least 1 attempt at a time")
    if args.start < 0:
        raise UsageError(f"--start {args.start}: seeds are non-negative")
    if not args.nodeid.strip() or args.nodeid.startswith("-") or "\n" in args.nodeid:
        raise UsageError(f"{args.nodeid!r} is not a test's node id "
                         "(tests/test_x.py::test_y)")


def where_to_run(repo: str) -> str:
    """The working tree's top: recorded node ids are relative to pytest's rootdir, which is
    the top unless the project says otherwise (then run hunt from that folder with -C)."""
    try:
        _common, _git, top = locate(repo)
    except GitStoreError as exc:
        raise UsageError(f"{exc}: hunt records runs, so it runs inside a git checkout") from None
    if top is None:
        raise UsageError("hunt runs the test in a working tree; this repository has none")
    here = os.path.abspath(repo)
    return here if here.startswith(top) else top


def run(args: argparse.Namespace) -> int:
    check(args)
    cwd = where_to_run(args.repo)
    python, _ = project_python(cwd, load_settings(cwd)["python"], args.python)
    req = HuntRequest(args.nodeid, args.seeds, args.start, args.until_fail, args.jobs, python,
                      cwd, args.branch, args.sign_key, args.no_sign)
    lock = threading.Lock()

    def status_of(short: str) -> tuple[str, str | None]:
        with lock:
            return test_status_at(cwd, args.branch, short, args.nodeid)

    def progress(attempt: Attempt) -> None:
        if not args.json:
            print(attempt_line(attempt), flush=True)

    if not args.json:
        print(f"hunt {args.nodeid}: base seeds {args.start} to {args.start + args.seeds - 1}, "
              f"{args.jobs} at a time{', until one fails' if args.until_fail else ''}", flush=True)
    try:
        attempts = hunt(req, status_of, progress)
    except NoSuchTest as exc:
        raise UsageError(not_found(args, str(exc))) from None
    failing = [a for a in attempts if a.failed]
    if args.json:
        print(json.dumps({"schema_version": 1, "command": "hunt", "nodeid": args.nodeid,
                          "tried": len(attempts), "failing": len(failing),
                          "attempts": [a.as_dict(args.nodeid) for a in attempts]},
                         sort_keys=True, indent=2))
    else:
        print("\n".join(summary(args.nodeid, attempts, failing)))
    return 1 if failing else 0


def attempt_line(attempt: Attempt) -> str:
    run = attempt.sha[:10] if attempt.sha else "none"
    line = (f"  --testlog-seed={attempt.base_seed:<6} seed {attempt.seed:<10} "
            f"{attempt.status:<12} run {run}")
    if attempt.sha is None and attempt.tail:
        line += "\n" + "\n".join(f"      {t}" for t in attempt.tail.splitlines()[-3:])
    return line


def summary(nodeid: str, attempts: list[Attempt], failing: list[Attempt]) -> list[str]:
    if not failing:
        return [f"no failing seed in {len(attempts)} tried"]
    lines = [f"{len(failing)} of {len(attempts)} seeds failed; replay each failure:"]
    for a in failing:
        lines.append(f"  seed {a.seed} (--testlog-seed={a.base_seed}) {a.status}: "
                     f"{a.replay(nodeid)}")
    return lines


def not_found(args: argparse.Namespace, tail: str) -> str:
    """pytest found no such test: say so, naming the closest recorded ids."""
    try:
        names = load_view(args.repo, args.branch, replays=False).test_names()
    except Exception:
        names = []
    near = closest_names(args.nodeid, names)
    detail = next((line.strip() for line in reversed(tail.splitlines())
                   if "not found" in line or "no tests ran" in line), "no tests ran")
    hint = f"; the closest recorded: {', '.join(near)}" if near else ""
    return f"pytest found no test {args.nodeid!r} here ({detail}){hint}"
