"""`git testlog replay <rev>`: re-execute a recorded run bit for bit and judge every test."""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from typing import Any

from gitstore import GitStoreError, commit_sha, locate

from testlog.commands.arguments import add_branch_argument, add_json_argument, add_signing_arguments
from testlog.config import load_settings
from testlog.core import branchjson
from testlog.core.chronicle import REPLAY_FAILED, REPLAY_VERIFIED
from testlog.core.triage import PASSING
from testlog.errors import UsageError
from testlog.gates.outcome import json_mode, print_json
from testlog.replay.launch import ReplayFailed, ReplayRequest, replay
from testlog.replay.repeat import UNTIL_FAIL_LIMIT, Repetition, repeat, tally, tally_lines
from testlog.store.events import event_of
from testlog.store.state import open_log

HELP = ("re-execute a recorded run in a temporary checkout of its source (recorded order, "
        "seeds and RNG states, PYTHONHASHSEED) and judge every test against its record; the "
        "report is committed to the log branch. Exit 0 only when every test is verified")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", nargs="?", default=None,
                        help="the run's log commit: sha, abbreviation or testlog~N (with "
                             "--from-dir: the suite or run.json to pick, when it holds several)")
    parser.add_argument("-k", dest="select", default=None, metavar="EXPR",
                        help="replay only the tests matching this pytest -k expression")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary directory (source, pytest output) and print it")
    parser.add_argument("--python", default=None, metavar="PATH",
                        help="interpreter to run the tests with (default: the `python` "
                             "setting, $VIRTUAL_ENV, the project's .venv, else this one)")
    parser.add_argument("--from-dir", default=None, metavar="DIR",
                        help="replay a run written by `pytest --testlog-out=DIR` (the report "
                             "is written to DIR)")
    parser.add_argument("--trusted-keys", metavar="FILE",
                        help="armored public keys to trust (default: config trusted_keys): "
                             "with trusted keys, only a run signed by one of them is replayed")
    parser.add_argument("--trust-run", action="store_true",
                        help="replay a run the trust rule refuses (unsigned with trusted keys "
                             "configured, a source in none of your refs, a dirty diff that is "
                             "not yours, options that load code); the report says it was forced")
    add_json_argument(parser)
    add_branch_argument(parser)
    add_signing_arguments(parser, "the report commit")
    parser.add_argument("--count", type=int, default=None, metavar="N",
                        help="replay N times (each replay reported as usual) and say per test "
                             "how many repetitions verified: whether a flaky outcome is "
                             "determined by the recorded inputs")
    parser.add_argument("--until-fail", action="store_true",
                        help="repeat the replay until one does not verify (at most --count, "
                             f"default {UNTIL_FAIL_LIMIT})")
    parser.add_argument("--no-hash-probe", action="store_true",
                        help="for a run recorded without PYTHONHASHSEED: skip the second "
                             "replay under another hash seed (faster, but a test whose result "
                             "depends on set/dict order may then pass by luck)")


def log_tip(args: argparse.Namespace) -> tuple[str | None, str | None, str | None]:
    """(the repository's top, the log branch, its tip) before the replay; Nones outside git."""
    try:
        _common, _git, top = locate(args.repo)
    except GitStoreError:       # outside a repository (--from-dir): the report is a file
        return None, None, None
    where = top or args.repo
    branch = args.branch or str(load_settings(where)["branch"].value)
    return where, branch, commit_sha(where, branch)


def branch_report(where: str, branch: str, before: str | None) -> tuple[dict[str, Any] | None, str | None]:
    """The replay report the replay just committed (the event of the new tip names it)."""
    tip = commit_sha(where, branch)
    if tip is None or tip == before:
        return None, None
    with open_log(where, branch, False) as store:
        event = event_of(store, store.entry(tip)) or {}
        if event.get("event") not in (REPLAY_VERIFIED, REPLAY_FAILED):
            return None, tip
        data = store.read(str(event.get("artifact", "")), tip)
    return branchjson.loads(data), tip


def directory_report(directory: str) -> dict[str, Any] | None:
    """The newest replay report written into a --from-dir directory."""
    found = sorted(glob.glob(os.path.join(directory, "replays", "*__replay.json")),
                   key=os.path.getmtime)
    if not found:
        return None
    with open(found[-1], encoding="utf-8") as handle:
        data = json.load(handle)
    return data if isinstance(data, dict) else None


def document(args: argparse.Namespace, code: int, before: tuple[str | None, ...]) -> dict[str, Any]:
    """`replay --json`: the exit status and the replay report (docs/gates.md)."""
    where, branch, tip = before
    commit = None
    if args.from_dir:
        report = directory_report(args.from_dir)
    elif where and branch:
        report, commit = branch_report(where, branch, tip)
    else:
        report = None
    return {"schema_version": 1, "command": "replay", "exit_status": code,
            "verdict": (report or {}).get("verdict"), "commit": commit, "report": report}


def run(args: argparse.Namespace) -> int:
    request = ReplayRequest(repo=args.repo, rev=args.rev, select=args.select, keep=args.keep,
                            python=args.python, from_dir=args.from_dir, branch=args.branch,
                            sign_key=args.sign_key, no_sign=args.no_sign,
                            trust_run=args.trust_run, trusted_keys=args.trusted_keys,
                            hash_probe=not args.no_hash_probe)
    if args.count is not None or args.until_fail:
        return run_repeated(args, request)
    before = log_tip(args) if args.json else (None, None, None)
    with json_mode(args.json) as stream:
        try:
            code, lines = replay(request)
        except ReplayFailed as exc:
            if exc.lines:
                print("\n".join(exc.lines))
                sys.stdout.flush()
            raise
        print("\n".join(lines))
        if args.json:
            print_json(document(args, code, before), stream)
    return code


def run_repeated(args: argparse.Namespace, request: ReplayRequest) -> int:
    """--count N / --until-fail: the replay again and again, then per test how many
    repetitions verified. Exit 0 only when every repetition verified."""
    if args.count is not None and args.count < 1:
        raise UsageError(f"--count {args.count}: give at least 1 repetition")
    count = args.count if args.count is not None else UNTIL_FAIL_LIMIT

    def once() -> tuple[int, dict[str, Any] | None, str | None]:
        before = log_tip(args)
        code, _lines = replay(request)
        if args.from_dir:
            return code, directory_report(args.from_dir), None
        where, branch, tip = before
        report, commit = branch_report(where, branch, tip) if where and branch else (None, None)
        return code, report, commit

    def progress(rep: Repetition, total: int) -> None:
        flagged = sum(1 for v in rep.tests.values() if v not in PASSING)
        where = f"report commit {rep.commit[:10]}" if rep.commit else "report written"
        print(f"repetition {rep.number}/{total if not args.until_fail or args.count else '…'}: "
              f"{rep.verdict or 'no report'} ({len(rep.tests) - flagged} verified, "
              f"{flagged} flagged; {where})", flush=True)

    with json_mode(args.json) as stream:
        repetitions = repeat(count, args.until_fail, once, progress)
        tallies = tally(repetitions)
        code = 0 if all(r.exit_status == 0 for r in repetitions) else 1
        if args.json:
            print_json({"schema_version": 1, "command": "replay", "exit_status": code,
                        "count": len(repetitions),
                        "repetitions": [r.as_dict() for r in repetitions],
                        "tests": [t.as_dict() for t in tallies]}, stream)
        else:
            print("\n".join(tally_lines(repetitions, tallies)))
    return code
