"""`git testlog push [REMOTE]`: publish this writer's chain, never by force."""
from __future__ import annotations

import argparse

from gitstore import UP_TO_DATE

from testlog.commands.arguments import add_branch_argument
from testlog.config import repo_settings
from testlog.store.chains import push_chain, writer_id
from testlog.store.state import CHAINS_PREFIX, open_configured

HELP = ("push this clone's log branch to a remote (default origin) as its writer's chain, "
        "refs/testlog/chains/<writer>: a fast-forward of that chain only, never forced")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", default="origin", help="remote name, URL or path")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    values, _, common = repo_settings(args.repo, {"branch": args.branch})
    writer = writer_id(common, values["writer"])
    with open_configured(args.repo, values, sign=False) as store:
        status, tip = push_chain(store, args.remote, writer)
    what = "already there" if status == UP_TO_DATE else "pushed"
    print(f"{what}: {store.ref} {tip[:10]} as {CHAINS_PREFIX}{writer} on {args.remote}")
    return 0
