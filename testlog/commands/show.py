"""`git testlog show <rev>`: one log commit's message, trailers, signature and files."""
from __future__ import annotations

import argparse
import json
from typing import Any

from gitstore import LogStore

from testlog.commands.arguments import add_branch_argument
from testlog.commands.flaky import flaky_marks
from testlog.commands.log import entry_dict
from testlog.config import repo_settings
from testlog.core.canonical import canonical_json
from testlog.core.counts import closing_line
from testlog.core.timefmt import utc_iso
from testlog.store.chains import known_writer_id
from testlog.store.runindex import read_view
from testlog.store.runs import read_run, run_entry, run_info, run_summary
from testlog.store.shards import ShardedRunData, find_sharded_run, read_sharded
from testlog.store.state import open_configured

HELP = ("show one log commit: message, trailers, signature and files; a run's summary (a "
        "sharded run's shards together)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", nargs="?", default=None,
                        help="a log commit: sha, abbreviation or testlog~N (default: the tip); "
                             "a shard's commit or a run id shows the whole sharded run")
    parser.add_argument("--commit", action="store_true",
                        help="show only the named commit, even when it records one shard of a "
                             "sharded run")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--records", action="store_true",
                        help="print a run's records, one JSON object per line, exactly as the "
                             "spec's record (and the recorder's signature) has them")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    values, _, common = repo_settings(args.repo, {"branch": args.branch})
    with open_configured(args.repo, values, sign=False) as store:
        store.require_chains()
        rev = args.rev or (store.tip or store.history_all(limit=1)[0][0].sha)
        sharded = None if args.commit else find_sharded_run(store, rev)
        if sharded is not None:
            return show_sharded(store, read_sharded(store, sharded), args)
        if args.records:
            return print_records(store, rev)
        entry = store.history(rev=rev, limit=1, verify_signatures=True)[0]
        files = store.changed_paths(entry.sha)
        summary_md, summary, flaky = None, None, None
        if run_info(entry) is not None:
            _entry, artifact = run_entry(store, entry.sha)
            summary_md, summary = run_summary(store, entry.sha, artifact)
            own = known_writer_id(common, values["writer"]) or "this clone"
            flaky = flaky_marks(read_view(store, own)).get(entry.sha,
                                                           {"contains": [], "failed": []})
    if args.json:
        out = {**entry_dict(entry), "message": entry.message, "files": files}
        if summary is not None:
            out["run"] = {**out["run"], "artifact": artifact, "summary": summary,
                          "flaky": flaky}
        print(json.dumps(out, sort_keys=True, indent=2))
        return 0
    print(f"commit {entry.sha}\nDate:      {utc_iso(entry.timestamp)}\n"
          f"Signature: {entry.signature}{' by ' + entry.signer if entry.signer else ''}\n")
    print("    " + entry.message.rstrip("\n").replace("\n", "\n    ") + "\n")
    if summary_md is not None:
        print(summary_md)
    if flaky and flaky["contains"]:
        failed = set(flaky["failed"])
        print("Known-flaky tests in this run (`git testlog flaky`): " + ", ".join(
            f"{name} ({'failed' if name in failed else 'passed'})"
            for name in flaky["contains"]) + "\n")
    for status, path in files:
        print(f"{status}  {path}")
    return 0


def print_records(store: LogStore, rev: str) -> int:
    _entry, data = read_run(store, rev)
    for record in data["records"]:
        print(canonical_json(record).decode())
    return 0


def show_sharded(store: LogStore, found: ShardedRunData, args: argparse.Namespace) -> int:
    """The whole sharded run: its shards (present, missing, recorded twice), what they do not
    agree on, the run's verdict and counts, then each shard's summary."""
    if args.records:
        for record in found.records():
            print(canonical_json(record).decode())
        return 0
    merged = found.merged_run()
    summaries = {shard.spec.index: run_summary(store, shard.entry.sha, run_entry(
        store, shard.entry.sha)[1]) for shard, _data in found.parts}
    if args.json:
        shards = [{**entry_dict(shard.entry, shard.chain), "index": shard.spec.index,
                   "summary": summaries[shard.spec.index][1]} for shard, _data in found.parts]
        print(json.dumps({"run_id": found.run.run_id, "run": merged, "shards": shards},
                         sort_keys=True, indent=2))
        return 0
    for line in sharded_header(found, merged):
        print(line)
    for shard, _data in found.parts:
        print(f"\n## shard {shard.spec.label} ({shard.entry.sha[:10]})\n")
        print(summaries[shard.spec.index][0])
    return 0


def sharded_header(found: ShardedRunData, merged: dict[str, Any]) -> list[str]:
    run, info = found.run, merged["shards"]
    totals = merged["totals"]
    lines = [f"sharded run {run.run_id}: {len(run.shards)}/{run.count} shards, "
             f"{merged['verdict']} ({closing_line(totals)})",
             f"suite {merged['suite']}, source {(merged.get('source') or {}).get('commit')}, "
             f"base seed {merged.get('base_seed')}", ""]
    for shard, data in found.parts:
        entry = shard.entry
        lines.append(f"shard {shard.spec.label}  {entry.sha[:10]}  {utc_iso(entry.timestamp)}  "
                     f"{entry.signature:<11}  {shard.chain}  {data['run'].get('suite')}  "
                     f"{data['run'].get('verdict')}  {len(data['records'])} tests")
    if run.missing_line():
        lines.append(f"missing: {run.missing_line()}")
    for dup in info["duplicates"]:
        lines.append(f"recorded twice: shard {dup['index']}/{run.count} also as "
                     f"{dup['sha'][:10]} on {dup['chain']} (not read: the first one is)")
    for problem in info["disagree"]:
        lines.append(f"the shards disagree on the {problem}: they cannot be replayed as one run")
    return lines
