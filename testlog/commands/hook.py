"""`git testlog hook pre-push|pre-commit`: what the hook shims and the pre-commit framework run."""
from __future__ import annotations

import argparse
import os
import sys

from gitstore import staged_files

from testlog.commands.arguments import (
    add_branch_argument,
    add_json_argument,
    add_signing_arguments,
    say_how_tests_start,
    sign_choice,
)
from testlog.core.prepush import branch_ref, parse_push_lines
from testlog.errors import UsageError
from testlog.gates.covgate import CoverageRequest, run_coverage
from testlog.gates.gaterange import Ranges
from testlog.gates.outcome import GateOutcome, finish, json_mode
from testlog.gates.pushrange import framework_files, framework_range, pushed_files
from testlog.gates.selection import affected
from testlog.gates.workspace import Workspace, open_workspace

HELP = ("git hook entry point: `hook pre-push` gates the coverage of the modules the pushed "
        "commits touch; `hook pre-commit` runs the tests of the modules the staged files touch")
CHECKS = {"pre-push": ("coverage", "bench"), "pre-commit": ("tests", "coverage")}
NOTHING = ("nothing to check: no pushed refs on stdin and no PRE_COMMIT_FROM_REF/"
           "PRE_COMMIT_TO_REF")

TRAILING_ARGS = "hook_args"       # git's own arguments may follow our options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    say_how_tests_start(parser)
    parser.add_argument("stage", choices=sorted(CHECKS), help="the git hook calling")
    parser.add_argument("hook_args", nargs="*", metavar="ARG",
                        help="what git passes the hook (pre-push: remote name and URL)")
    parser.add_argument("--check", choices=("coverage", "bench", "tests"), default=None,
                        help="pre-push: coverage (default) or bench; pre-commit: tests "
                             "(default) or coverage")
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="run N modules at once")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run modules already measured at the same tree and environment")
    parser.add_argument("--allow-empty", action="store_true",
                        help="pass when there is nothing to check (no refs, every module "
                             "skipped); under the pre-commit framework that fails otherwise, "
                             "since it hides a passing hook's output")
    add_json_argument(parser)
    add_branch_argument(parser)
    add_signing_arguments(parser, "the ledger commit")


def stdin_text() -> str:
    return "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()


def push_changes(ws: Workspace, remote: str | None) -> tuple[list[str], Ranges, str] | None:
    """(changed files, their ranges, what they are) of the pushed refs; None: nothing pushed."""
    span = framework_range()
    if span:
        remote_branch = os.environ.get("PRE_COMMIT_REMOTE_BRANCH", "")
        if remote_branch and branch_ref(remote_branch) == branch_ref(ws.settings["branch"].value):
            print("git-testlog: pushing the log branch: nothing to gate")
            return [], Ranges(), "the log branch"
        files, ranges = framework_files(ws.root, span)
        print(f"git-testlog: {span[0]}..{span[1]}: {len(files)} file(s) changed", flush=True)
        return files, ranges, f"{span[0]}..{span[1]}"
    refs = parse_push_lines(stdin_text())
    if not refs:
        return None
    files, ranges, notes = pushed_files(ws.root, remote, refs, ws.settings["branch"].value,
                                        ws.head)
    for note in notes:
        print(f"git-testlog: {note}", flush=True)
    return files, ranges, "the pushed commits"


def check_of(args: argparse.Namespace) -> str:
    check = args.check or CHECKS[args.stage][0]
    if check not in CHECKS[args.stage]:
        raise UsageError(f"hook {args.stage} --check {check}: not a check of this stage "
                         f"(choose from {', '.join(CHECKS[args.stage])})")
    if args.jobs < 1:
        raise UsageError(f"-j {args.jobs}: use a positive number of parallel modules")
    return check


def remote_of(args: argparse.Namespace) -> str | None:
    return (args.hook_args[0] if args.hook_args else None) or \
        os.environ.get("PRE_COMMIT_REMOTE_NAME") or None


def nothing_to_check(args: argparse.Namespace) -> GateOutcome:
    """No refs: under the pre-commit framework a pass would hide this, so it fails there."""
    framework = bool(os.environ.get("PRE_COMMIT"))
    fails = framework and not args.allow_empty
    hint = "; pass --allow-empty if that is expected" if fails else ""
    return GateOutcome(check_of(args), "nothing", "empty", 1 if fails else 0,
                       summary=f"git-testlog: {NOTHING}{hint}")


def gate(ws: Workspace, args: argparse.Namespace, check: str) -> GateOutcome:
    if args.stage == "pre-commit":
        files = staged_files(ws.root, os.environ.get("GIT_INDEX_FILE"))
        found: tuple[list[str], Ranges, str] | None = (files, Ranges(), "the staged files")
    else:
        found = push_changes(ws, remote_of(args))
    if found is None:
        return nothing_to_check(args)
    files, ranges, what = found
    manifests = affected(ws, files) if files else []
    selection = f"modules affected by {what}"
    if check == "tests":
        from testlog.gates.testsonly import run_tests  # each check loads what it runs
        return run_tests(ws, manifests, selection, jobs=args.jobs)
    if check == "bench":
        from testlog.gates.benchgate import BenchRequest, run_bench
        return run_bench(ws, manifests, BenchRequest(
            selection, args.jobs, not args.no_cache, False, args.allow_empty, ranges, True))
    return run_coverage(ws, manifests, CoverageRequest(
        selection, args.jobs, not args.no_cache, False, True, args.allow_empty, ranges,
        from_change=True))


def publish(ws: Workspace, args: argparse.Namespace, outcome: GateOutcome) -> None:
    """After a gated push that passes, the ledger goes along (or the hook says how)."""
    remote = remote_of(args)
    if args.stage != "pre-push" or outcome.exit_status or not remote or \
            not any(m.get("coverage") is not None or m.get("benchmarks") for m in outcome.modules):
        return
    from testlog.store.publish import publish_along
    _status, line = publish_along(ws.root, ws.common_dir, remote, ws.settings["branch"].value,
                                  ws.settings["writer"])
    print(f"git-testlog: {line}", flush=True)


def run(args: argparse.Namespace) -> int:
    check = check_of(args)
    cli = {"branch": args.branch, "sign_key": sign_choice(args)}
    with json_mode(args.json) as stream:
        with open_workspace(args.repo, cli, prestart=True) as ws:
            outcome = gate(ws, args, check)
            code = finish(outcome, f"hook {args.stage}", stream if args.json else None)
            publish(ws, args, outcome)
        return code

