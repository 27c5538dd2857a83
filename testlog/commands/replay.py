"""`git testlog replay <rev>`: re-execute a recorded run bit for bit and judge every test."""
from __future__ import annotations

import argparse
import sys

from testlog.commands.arguments import add_branch_argument
from testlog.replay.launch import ReplayFailed, ReplayRequest, replay

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
    add_branch_argument(parser)
    parser.add_argument("--sign-key", default=None,
                        help="key to sign the report commit (default: git's user.signingkey)")
    parser.add_argument("--no-sign", action="store_true", help="commit the report unsigned")
    parser.add_argument("--no-hash-probe", action="store_true",
                        help="for a run recorded without PYTHONHASHSEED: skip the second "
                             "replay under another hash seed (faster, but a test whose result "
                             "depends on set/dict order may then pass by luck)")


def run(args: argparse.Namespace) -> int:
    request = ReplayRequest(repo=args.repo, rev=args.rev, select=args.select, keep=args.keep,
                            python=args.python, from_dir=args.from_dir, branch=args.branch,
                            sign_key=args.sign_key, no_sign=args.no_sign,
                            hash_probe=not args.no_hash_probe)
    try:
        code, lines = replay(request)
    except ReplayFailed as exc:
        if exc.lines:
            print("\n".join(exc.lines))
            sys.stdout.flush()
        raise
    print("\n".join(lines))
    return code
