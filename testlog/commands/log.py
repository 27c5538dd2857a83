"""`git testlog log`: one line per commit of the log branch."""
from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone

from gitstore import LogEntry, LogStore

HELP = "list the log branch's commits, newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=None, metavar="N", help="show at most N commits")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--verify", action="store_true",
                        help="check each signature with gpg (slower) instead of only its presence")
    parser.add_argument("--branch", default="refs/heads/testlog", help="the log branch")


def entry_dict(entry: LogEntry) -> dict:
    return {"sha": entry.sha, "parents": list(entry.parents), "summary": entry.summary,
            "trailers": entry.trailers, "timestamp": utc(entry.timestamp),
            "signature": entry.signature, "signer": entry.signer}


def utc(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def run(args: argparse.Namespace) -> int:
    with LogStore.open(args.repo, ref=args.branch, sign_key=False) as store:
        store.require_tip()
        entries = store.history(limit=args.n, verify_signatures=args.verify)
    for entry in entries:
        if args.json:
            print(json.dumps(entry_dict(entry), sort_keys=True))
        else:
            print(f"{entry.sha[:10]}  {utc(entry.timestamp)}  {entry.signature:<11}  {entry.summary}")
    return 0
