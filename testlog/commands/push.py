"""`git testlog push [REMOTE]`: publish the log branch, never by force."""
from __future__ import annotations

import argparse

import gitstore

from testlog.logbranch import open_log

HELP = ("push the log branch to a remote (default origin); if another machine pushed first, "
        "rebuild the local-only commits on top (re-signed) and push again — never forced")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Shared with `fetch`: both may rebuild local commits, so both may need a key."""
    parser.add_argument("remote", nargs="?", default="origin", help="remote name or URL")
    parser.add_argument("--branch", default="refs/heads/testlog", help="the log branch")
    parser.add_argument("--sign-key", default=None,
                        help="key to re-sign rebuilt commits (default: git's user.signingkey)")


def run(args: argparse.Namespace) -> int:
    with open_log(args.repo, args.branch, args.sign_key) as store:
        result = gitstore.push(store, args.remote)
    extra = f", {result.rebuilt} local commit(s) rebuilt on the remote tip" if result.rebuilt else ""
    print(f"pushed {args.branch} {result.tip[:10]} to {args.remote}{extra}")
    return 0
