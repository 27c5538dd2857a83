"""`git testlog hook pre-push|pre-commit`: what the hook shims and the pre-commit framework run."""
from __future__ import annotations

import argparse
import os
import sys

from gitstore import changed_files, commit_sha, shallow_hint, staged_files

from testlog.commands.arguments import add_branch_argument, add_signing_arguments, sign_choice
from testlog.core.modules import affected_modules
from testlog.core.prepush import branch_ref, parse_push_lines
from testlog.errors import TestlogError
from testlog.gates.bench import run_bench
from testlog.gates.coverage import run_coverage, run_tests
from testlog.gates.pushrange import framework_range, pushed_files
from testlog.gates.selection import load_all
from testlog.gates.workspace import Workspace, open_workspace

HELP = ("git hook entry point: `hook pre-push` gates the coverage of the modules the pushed "
        "commits touch; `hook pre-commit` runs the tests of the modules the staged files touch")
CHECKS = {"pre-push": ("coverage", "bench"), "pre-commit": ("tests", "coverage")}


TRAILING_ARGS = "hook_args"       # git's own arguments may follow our options


def add_arguments(parser: argparse.ArgumentParser) -> None:
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
    add_branch_argument(parser)
    add_signing_arguments(parser, "the ledger commit")


def stdin_text() -> str:
    return "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()


def push_changes(ws: Workspace, remote: str | None) -> tuple[list[str], str] | None:
    """(changed files, what they are) for the pushed refs, or None when nothing is pushed."""
    span = framework_range()
    if span:
        remote_branch = os.environ.get("PRE_COMMIT_REMOTE_BRANCH", "")
        if remote_branch and branch_ref(remote_branch) == branch_ref(ws.settings["branch"].value):
            print("git-testlog: pushing the log branch: nothing to gate")
            return [], "the log branch"
        missing = [rev for rev in span if commit_sha(ws.root, rev) is None]
        if missing:
            raise TestlogError(f"unknown revision {missing[0]!r} (PRE_COMMIT_FROM_REF/"
                               f"PRE_COMMIT_TO_REF){shallow_hint(ws.root)}")
        return changed_files(ws.root, *span), f"{span[0][:10]}..{span[1][:10]}"
    refs = parse_push_lines(stdin_text())
    if not refs:
        return None
    files, notes = pushed_files(ws.root, remote, refs, ws.settings["branch"].value, ws.head)
    for note in notes:
        print(f"git-testlog: {note}")
    return files, "the pushed commits"


def stage_changes(ws: Workspace, args: argparse.Namespace) -> tuple[list[str], str] | None:
    if args.stage == "pre-commit":
        return staged_files(ws.root, os.environ.get("GIT_INDEX_FILE")), "the staged files"
    return push_changes(ws, args.hook_args[0] if args.hook_args else None)


def check_of(args: argparse.Namespace) -> str:
    check = args.check or CHECKS[args.stage][0]
    if check not in CHECKS[args.stage]:
        raise TestlogError(f"hook {args.stage} --check {check}: not a check of this stage "
                           f"(choose from {', '.join(CHECKS[args.stage])})")
    return check


def run(args: argparse.Namespace) -> int:
    check = check_of(args)
    with open_workspace(args.repo, {"branch": args.branch, "sign_key": sign_choice(args)}) as ws:
        found = stage_changes(ws, args)
        if found is None:
            print("git-testlog: no pushed refs on stdin and no PRE_COMMIT_FROM_REF/"
                  "PRE_COMMIT_TO_REF: nothing to check")
            return 0
        files, what = found
        manifests = load_all(ws, affected_modules(files, ws.all_roots))
        selection = f"modules affected by {what}"
        options = {"jobs": args.jobs, "use_cache": not args.no_cache}
        if check == "tests":
            return run_tests(ws, manifests, selection, jobs=args.jobs)
        if check == "bench":
            return run_bench(ws, manifests, selection, update=False, **options)
        return run_coverage(ws, manifests, selection, update=False, gate=True, **options)
