"""`git testlog log`: one line per commit of the log: this clone's branch and the chains of the
other writers it fetched, newest first, each attributed to its writer when there are several."""
from __future__ import annotations

import argparse
import json
from typing import Any

from gitstore import LogEntry

from testlog.commands.arguments import add_branch_argument
from testlog.commands.flaky import flaky_marks, mark_text
from testlog.config import repo_settings
from testlog.core.timefmt import utc_iso
from testlog.store.chains import known_writer_id, writer_of
from testlog.store.runindex import read_view
from testlog.store.runs import run_info
from testlog.store.state import open_configured

HELP = ("list the log's commits (this clone's branch and every writer's chain fetched here), "
        "newest first")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", type=int, default=None, metavar="N", help="show at most N commits")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument("--verify", action="store_true",
                        help="check each signature with gpg (slower) instead of only its presence")
    add_branch_argument(parser)
    parser.add_argument("--runs", action="store_true",
                        help="only test runs (pytest --testlog), each marked when it holds "
                             "known-flaky tests (see `git testlog flaky`)")


def entry_dict(entry: LogEntry, chain: str | None = None, writer: str | None = None,
               flaky: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The JSON of one commit; a run also gets "run": suite, verdict, counts, source (and
    with `log --runs`, the known-flaky tests it holds and those that failed in it)."""
    out: dict[str, Any] = {
        "sha": entry.sha, "parents": list(entry.parents), "summary": entry.summary,
        "trailers": entry.trailers, "timestamp": utc_iso(entry.timestamp),
        "signature": entry.signature, "signer": entry.signer, "chain": chain, "writer": writer}
    info = run_info(entry)
    if info is not None:
        out["run"] = info if flaky is None else {**info, "flaky": flaky}
    return out


def entry_line(entry: LogEntry, writer: str | None = None, flaky: str = "") -> str:
    head = f"{entry.sha[:10]}  {utc_iso(entry.timestamp)}  {entry.signature:<11}  "
    if writer is not None:
        head += f"{writer}  "
    info = run_info(entry)
    if info is None:
        return head + entry.summary
    source = (info["source_commit"] or "none")[:10]
    not_run = f"  {info['not_run']} not run" if info.get("not_run") else ""
    selection = f"  [{info['selection']}]" if info.get("selection") else ""
    return (head + f"run  {info['suite']}{selection}  {info['verdict']}  {info['passed']} passed  "
            f"{info['failed']} failed{not_run}  source {source}{flaky}")


def run(args: argparse.Namespace) -> int:
    values, _, common = repo_settings(args.repo, {"branch": args.branch})
    with open_configured(args.repo, values, sign=False) as store:
        chains = store.require_chains()
        own = known_writer_id(common, values["writer"]) or "this clone"
        entries = store.history_all(limit=None if args.runs else args.n,
                                    verify_signatures=args.verify)
        marks = flaky_marks(read_view(store, own, replays=True)) if args.runs else {}
    if args.runs:
        entries = [(e, ref) for e, ref in entries if run_info(e) is not None][:args.n]
    several = len(chains) > 1
    for entry, ref in entries:
        writer = writer_of(ref, store.ref, own)
        mark = marks.get(entry.sha, {"contains": [], "failed": []}) if args.runs else None
        print(json.dumps(entry_dict(entry, ref, writer, mark), sort_keys=True) if args.json
              else entry_line(entry, writer if several else None, mark_text(mark)))
    return 0
