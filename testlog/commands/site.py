"""`git testlog site -o DIR`: a static site of the log (every writer's chain) that works opened
straight from disk: suites' pass rate and duration over time, a page per test and per run,
the flaky tests, replays, coverage and benchmark ledgers."""
from __future__ import annotations

import argparse
import os
import sys

from gitstore import GitStoreError, locate

from testlog.commands.arguments import add_branch_argument
from testlog.config import repo_settings
from testlog.core.flaky import evidence_note
from testlog.site.build import check_destination, site_of, write_site
from testlog.store.chains import known_writer_id
from testlog.store.runindex import read_ledgers, read_view, since_seconds
from testlog.store.state import open_configured

HELP = ("build a static HTML site of the log (all writers' chains) in DIR: it works from "
        "file:// (no server, no network); prints the path of its first page")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", dest="output", required=True, metavar="DIR",
                        help="the folder to build it in: new, empty, or a site built before "
                             "(replaced whole once the new one is complete)")
    parser.add_argument("--since", metavar="DATE",
                        help="only runs committed from DATE on ('2026-11-01', '2 weeks ago')")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    check_destination(args.output)
    values, _, common = repo_settings(args.repo, {"branch": args.branch})

    def notice(line: str) -> None:
        print(f"git-testlog: {line}", file=sys.stderr)
    with open_configured(args.repo, values, sign=False) as store:
        own = known_writer_id(common, values["writer"]) or "this clone"
        view = read_view(store, own, since=since_seconds(store, args.since), notice=notice)
        ledgers = read_ledgers(store, notice)
    count = write_site(args.output, site_of(view, ledgers, top_of(args.repo)))
    note = evidence_note(view.runs)
    if note:
        print(note)
    print(f"site: {count} files from {len(view.runs)} runs; open "
          f"{os.path.join(os.path.abspath(args.output), 'index.html')}")
    return 0


def top_of(repo: str) -> str | None:
    try:
        return locate(repo)[2]
    except GitStoreError:
        return None
