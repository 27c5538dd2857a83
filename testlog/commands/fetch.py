"""`git testlog fetch [REMOTE]`: bring the remote's log branch here and integrate it."""
from __future__ import annotations

import argparse

import gitstore

from testlog.logbranch import open_log

HELP = ("fetch the log branch from a remote (default origin) and integrate it: create, "
        "fast-forward, or rebuild local-only commits on the remote tip (re-signed)")

MESSAGES = {
    "created": "created {branch} at {tip}",
    "up-to-date": "{branch} is up to date at {tip}",
    "fast-forward": "fast-forwarded {branch} to {tip}",
    "ahead": "{branch} at {tip} already contains the remote's; push it with `git testlog push`",
    "rebuilt": "rebuilt {rebuilt} local commit(s) on the remote tip: {branch} at {tip}",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", default="origin", help="remote name or URL")
    parser.add_argument("--branch", default="refs/heads/testlog", help="the log branch")
    parser.add_argument("--sign-key", default=None,
                        help="key to re-sign rebuilt commits (default: git's user.signingkey)")


def run(args: argparse.Namespace) -> int:
    with open_log(args.repo, args.branch, args.sign_key) as store:
        result = gitstore.fetch(store, args.remote)
    print(MESSAGES[result.status].format(branch=args.branch, tip=result.tip[:10],
                                         rebuilt=result.rebuilt))
    return 0
