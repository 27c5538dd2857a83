"""`git testlog fetch [REMOTE]`: bring the remote's log branch here and integrate it."""
from __future__ import annotations

import argparse

import gitstore

from testlog.commands.push import add_arguments, open_for_sync, rebuilt_note  # noqa: F401
from testlog.store.events import refuse_rebuilding_epoch

HELP = ("fetch the log branch from a remote (default origin) and integrate it: create, "
        "fast-forward, or rebuild local-only commits on the remote tip (re-signed)")

MESSAGES = {
    "created": "created {branch} at {tip}",
    "up-to-date": "{branch} is up to date at {tip}",
    "fast-forward": "fast-forwarded {branch} to {tip}",
    "ahead": "{branch} at {tip} already contains the remote's; push it with `git testlog push`",
    "rebuilt": "rebuilt {rebuilt} local commit(s) on the remote tip: {branch} at {tip}",
}


def run(args: argparse.Namespace) -> int:
    with open_for_sync(args) as store:
        result = gitstore.fetch(store, args.remote, guard=refuse_rebuilding_epoch)
        note = rebuilt_note(store, result)
    print(MESSAGES[result.status].format(branch=store.ref, tip=result.tip[:10],
                                         rebuilt=result.rebuilt) + note)
    return 0
