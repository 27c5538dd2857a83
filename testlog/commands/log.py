"""`git testlog log`: one line per commit of the log branch."""
from __future__ import annotations

import argparse
import json

from gitstore import LogEntry

from testlog.commands.arguments import add_branch_argument
from testlog.config import repo_settings
from testlog.core.timefmt import utc_iso
from testlog.store.runs import run_info
from testlog.store.state import open_configured

HELP = "list the log branch's commits, newest first"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=None, metavar="N", help="show at most N commits")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--verify", action="store_true",
                        help="check each signature with gpg (slower) instead of only its presence")
    add_branch_argument(parser)
    parser.add_argument("--runs", action="store_true", help="only test runs (pytest --testlog)")


def entry_dict(entry: LogEntry) -> dict:
    """The JSON of one commit; a run also gets "run": suite, verdict, counts, source."""
    out = {"sha": entry.sha, "parents": list(entry.parents), "summary": entry.summary,
           "trailers": entry.trailers, "timestamp": utc_iso(entry.timestamp),
           "signature": entry.signature, "signer": entry.signer}
    info = run_info(entry)
    if info is not None:
        out["run"] = info
    return out


def entry_line(entry: LogEntry) -> str:
    head = f"{entry.sha[:10]}  {utc_iso(entry.timestamp)}  {entry.signature:<11}  "
    info = run_info(entry)
    if info is None:
        return head + entry.summary
    source = (info["source_commit"] or "none")[:10]
    not_run = f"  {info['not_run']} not run" if info.get("not_run") else ""
    selection = f"  [{info['selection']}]" if info.get("selection") else ""
    return (head + f"run  {info['suite']}{selection}  {info['verdict']}  {info['passed']} passed  "
            f"{info['failed']} failed{not_run}  source {source}")


def run(args: argparse.Namespace) -> int:
    values, _, _ = repo_settings(args.repo, {"branch": args.branch})
    with open_configured(args.repo, values, sign=False) as store:
        store.require_tip()
        entries = store.history(limit=None if args.runs else args.n, verify_signatures=args.verify)
    if args.runs:
        entries = [e for e in entries if run_info(e) is not None][:args.n]
    for entry in entries:
        print(json.dumps(entry_dict(entry), sort_keys=True) if args.json else entry_line(entry))
    return 0
