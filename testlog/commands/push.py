"""`git testlog push [REMOTE]`: publish the log branch, never by force."""
from __future__ import annotations

import argparse

import gitstore
from gitstore import is_ancestor

from testlog.audit.verified import load_state
from testlog.commands.arguments import add_branch_argument, add_signing_arguments, sign_choice
from testlog.config import repo_settings
from testlog.store.events import refuse_rebuilding_epoch
from testlog.store.state import open_configured

HELP = ("push the log branch to a remote (default origin); if another machine pushed first, "
        "rebuild the local-only commits on top (re-signed) and push again — never forced")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Shared with `fetch`: both may rebuild local commits, so both may need a key."""
    parser.add_argument("remote", nargs="?", default="origin", help="remote name, URL or path")
    add_branch_argument(parser)
    add_signing_arguments(parser, "rebuilt commits (a signed commit is only rebuilt signed)")


def open_for_sync(args: argparse.Namespace) -> gitstore.LogStore:
    values, _, _ = repo_settings(args.repo, {"branch": args.branch, "sign_key": sign_choice(args)})
    return open_configured(args.repo, values, sign=True)


def rebuilt_note(store: gitstore.LogStore, result: gitstore.SyncResult) -> str:
    """When rebuilding replaced the tip `verify` last checked, say what the next verify shows."""
    state = load_state(store.common_dir, store.ref) if result.rebuilt else None
    if state is None or is_ancestor(store.common_dir, state.tip, result.tip):
        return ""
    return ("\nnote: the last verified tip was rebuilt on the remote's; the next `git testlog "
            "verify` reports that rewrite: check it once with `--accept-rewrite`")


def run(args: argparse.Namespace) -> int:
    with open_for_sync(args) as store:
        result = gitstore.push(store, args.remote, guard=refuse_rebuilding_epoch)
        note = rebuilt_note(store, result)
    extra = f", {result.rebuilt} local commit(s) rebuilt on the remote tip" if result.rebuilt else ""
    print(f"pushed {store.ref} {result.tip[:10]} to {args.remote}{extra}{note}")
    return 0
