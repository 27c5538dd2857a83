"""`git testlog log`: one line per commit of the log: this clone's branch and the chains of the
other writers it fetched, newest first, each attributed to its writer when there are several."""
from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from gitstore import LogEntry

from testlog.commands.arguments import add_branch_argument
from testlog.commands.flaky import flaky_marks, mark_text
from testlog.config import repo_settings
from testlog.core.shards import combined_verdict, run_suite
from testlog.core.timefmt import utc_iso
from testlog.store.chains import known_writer_id, writer_of
from testlog.store.runindex import read_view
from testlog.store.runs import run_info
from testlog.store.shards import LoggedRun, logged_runs, shard_spec
from testlog.store.state import open_configured

HELP = ("list the log's commits (this clone's branch and every writer's chain fetched here), "
        "newest first; with --runs one line per run, the shards of a sharded run together")


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
    shard = shard_spec(entry)
    of_run = f"  shard {shard.label} of run {shard.run_id}" if shard else ""
    return (head + f"run  {info['suite']}{selection}  {info['verdict']}  {info['passed']} passed  "
            f"{info['failed']} failed{not_run}  source {source}{of_run}{flaky}")


def sharded_info(run: LoggedRun) -> dict[str, Any]:
    """A sharded run's "run" object: its shards' counts summed, its verdict, which shards are
    present and missing (from the commits' messages alone, as for one run)."""
    infos = [run_info(shard.entry) or {} for shard in run.ordered()]
    first = infos[0]

    def total(key: str) -> int | None:
        values = [info.get(key) for info in infos]
        return None if any(v is None for v in values) else sum(int(v or 0) for v in values)
    return {"suite": run_suite(str(first.get("suite"))),
            "verdict": combined_verdict([str(i.get("verdict")) for i in infos], run.missing),
            "passed": total("passed"), "failed": total("failed"), "not_run": total("not_run"),
            "selection": first.get("selection"), "source_commit": first.get("source_commit"),
            "source_tree": first.get("source_tree"), "run_id": run.run_id,
            "shards": {"count": run.count, "present": sorted(run.shards),
                       "missing": run.missing}}


def run_mark(marks: dict[str, dict[str, list[str]]], shas: list[str]) -> dict[str, list[str]]:
    """The known-flaky tests a run's commits (a sharded run's shards) hold, and those that
    failed in them."""
    found: dict[str, set[str]] = {"contains": set(), "failed": set()}
    for sha in shas:
        for key, names in marks.get(sha, {}).items():
            found.setdefault(key, set()).update(names)
    return {key: sorted(names) for key, names in found.items()}


def sharded_dict(run: LoggedRun, writer: Callable[[str], str],
                 flaky: dict[str, list[str]] | None = None) -> dict[str, Any]:
    """The JSON of a sharded run: its newest shard's commit, the run, each shard."""
    out = entry_dict(run.entry, run.chain, writer(run.chain))
    out["run"] = sharded_info(run) if flaky is None else {**sharded_info(run), "flaky": flaky}
    out["shards"] = [{"index": s.spec.index, "sha": s.entry.sha, "chain": s.chain,
                      "writer": writer(s.chain), "summary": s.entry.summary,
                      "signature": s.entry.signature} for s in run.ordered()]
    return out


def sharded_line(run: LoggedRun, writer: Callable[[str], str], several: bool) -> str:
    """One line for the whole sharded run, at its newest shard: `… shards 3/3 of run ID`."""
    info = sharded_info(run)
    signatures = {s.entry.signature for s in run.ordered()}
    signature = signatures.pop() if len(signatures) == 1 else "mixed"
    head = f"{run.entry.sha[:10]}  {utc_iso(run.entry.timestamp)}  {signature:<11}  "
    if several:
        head += ",".join(dict.fromkeys(writer(s.chain) for s in run.ordered())) + "  "
    source = (info["source_commit"] or "none")[:10]
    not_run = f"  {info['not_run']} not run" if info.get("not_run") else ""
    selection = f"  [{info['selection']}]" if info.get("selection") else ""
    missing = ", ".join(f"{k}/{run.count}" for k in run.missing)
    shards = f"{len(run.shards)}/{run.count} shards of run {run.run_id}" + \
        (f" (missing {missing})" if missing else "")
    return (head + f"run  {info['suite']}{selection}  {info['verdict']}  {info['passed']} "
            f"passed  {info['failed']} failed{not_run}  source {source}  {shards}")


def run(args: argparse.Namespace) -> int:
    values, _, common = repo_settings(args.repo, {"branch": args.branch})
    with open_configured(args.repo, values, sign=False) as store:
        chains = store.require_chains()
        own = known_writer_id(common, values["writer"]) or "this clone"
        entries = store.history_all(limit=None if args.runs else args.n,
                                    verify_signatures=args.verify)
        marks = flaky_marks(read_view(store, own, replays=True)) if args.runs else {}
    several = len(chains) > 1

    def writer(ref: str) -> str:
        return writer_of(ref, store.ref, own)
    if args.runs:
        # One line per run: the shards of a sharded run together (store/shards.py).
        for logged in logged_runs(entries)[:args.n]:
            mark = run_mark(marks, [s.entry.sha for s in logged.ordered()] if logged.sharded
                            else [logged.entry.sha])
            if logged.sharded:
                print(json.dumps(sharded_dict(logged, writer, mark), sort_keys=True)
                      if args.json else sharded_line(logged, writer, several) + mark_text(mark))
            else:
                print(json.dumps(entry_dict(logged.entry, logged.chain, writer(logged.chain),
                                            mark), sort_keys=True) if args.json
                      else entry_line(logged.entry, writer(logged.chain) if several else None,
                                      mark_text(mark)))
        return 0
    for entry, ref in entries:
        print(json.dumps(entry_dict(entry, ref, writer(ref)), sort_keys=True) if args.json
              else entry_line(entry, writer(ref) if several else None))
    return 0
