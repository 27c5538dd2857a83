"""`git testlog commit-pending`: commit the runs pytest could not commit (gpg failed, lock
timeout, full disk), oldest first; each is removed from pending once committed."""
from __future__ import annotations

import argparse
import os

from gitstore import GitStoreError, locate

from testlog.commands.arguments import add_signing_arguments
from testlog.errors import TestlogError
from testlog.store import pending
from testlog.store.runs import commit_run
from testlog.store.state import open_log

HELP = "commit the runs saved in .git/testlog/pending/ when their commit failed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--list", action="store_true", help="only list the pending runs")
    parser.add_argument("--branch", default=None, metavar="REF",
                        help="commit to this branch (default: the one each run was recorded for)")
    add_signing_arguments(parser, "the commits (default: each run's own key)")


def sign_choice(args: argparse.Namespace, settings: dict) -> str | bool | None:
    if args.no_sign:
        return False
    if args.sign_key:
        return args.sign_key
    return False if settings.get("no_sign") else settings.get("sign_key")


def commit_entry(repo: str, entry: str, args: argparse.Namespace) -> str:
    bundle, meta = pending.load(entry)
    settings = meta.get("settings", {})
    branch = args.branch or settings.get("branch") or "refs/heads/testlog"
    with open_log(repo, branch, sign_choice(args, settings)) as store:
        sha = commit_run(store, bundle)
    pending.remove(entry)
    return f"committed {os.path.basename(entry)} as {sha[:10]} on {branch}: {bundle.summary}"


def run(args: argparse.Namespace) -> int:
    common, _git_dir, _top = locate(args.repo)
    if args.list:
        return list_entries(common)
    for line in pending.settle_partials(common):
        print(line)
    entries = pending.entries(common)
    if not entries:
        print("no pending runs")
        return 0
    for number, entry in enumerate(entries):
        try:
            print(commit_entry(args.repo, entry, args))
        except (GitStoreError, OSError) as exc:
            left = len(entries) - number
            raise TestlogError(f"could not commit pending run {os.path.basename(entry)} ({exc}); "
                               f"{left} run(s) still pending") from None
    return 0


def list_entries(common: str) -> int:
    """Every pending run, and every partial one (a writer stopped while saving it)."""
    entries, partials = pending.entries(common), pending.partials(common)
    if not entries and not partials:
        print("no pending runs")
    for entry in entries:
        _bundle, meta = pending.load(entry)
        print(f"{os.path.basename(entry)}  {meta['summary']}  ({meta.get('error', '')})")
    for partial in partials:
        print(partial.describe())
    return 0
