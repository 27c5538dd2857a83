"""`git testlog show <rev>`: one log commit's message, trailers, signature and files."""
from __future__ import annotations

import argparse
import json

from gitstore import LogStore

from testlog.commands.arguments import add_branch_argument
from testlog.commands.flaky import flaky_marks
from testlog.commands.log import entry_dict
from testlog.config import repo_settings
from testlog.core.canonical import canonical_json
from testlog.core.timefmt import utc_iso
from testlog.store.chains import known_writer_id
from testlog.store.runindex import read_view
from testlog.store.runs import read_run, run_entry, run_info, run_summary
from testlog.store.state import open_configured

HELP = "show one log commit: message, trailers, signature and files; a run's summary"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rev", nargs="?", default=None,
                        help="a log commit: sha, abbreviation or testlog~N (default: the tip)")
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
