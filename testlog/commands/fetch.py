"""`git testlog fetch [REMOTE]`: bring the chains of other writers here, checked."""
from __future__ import annotations

import argparse
import sys

from testlog.commands.arguments import add_branch_argument
from testlog.config import repo_settings
from testlog.store.chains import fetch_chains, writer_id
from testlog.store.state import open_configured
from testlog.store.trust import trusted_certs

FAILED = ("kept apart", "refused")    # said on stderr; fetch exits 1

HELP = ("fetch the chains of a remote's writers (default origin; all, or --writer PATTERN): "
        "each is kept when it continues the one here (and, with trusted keys configured, is "
        "signed by them), else kept apart and said so")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("remote", nargs="?", default="origin", help="remote name, URL or path")
    parser.add_argument("--writer", default=None, metavar="PATTERN",
                        help="only the chains of these writers (an id, or a pattern with one "
                             "'*', e.g. 'ci-*')")
    parser.add_argument("--since", metavar="DATE",
                        help="of a chain not here yet, only the commits after DATE (git's "
                             "--shallow-since: '2026-11-01', '2 weeks ago'); chains already "
                             "here are brought up to date whole")
    parser.add_argument("--trusted-keys", metavar="FILE",
                        help="accept only chains signed by these keys (default: config "
                             "trusted_keys; none: every chain that continues ours)")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    values, root, common = repo_settings(args.repo, {"branch": args.branch})
    trusted = trusted_certs(args.trusted_keys, values["trusted_keys"], root, common)
    own = writer_id(common, values["writer"])
    with open_configured(args.repo, values, sign=False) as store:
        results = fetch_chains(store, args.remote, own, args.writer, trusted, args.since)
    if not results:
        print(f"{args.remote} has no chains" + (f" of writers {args.writer}" if args.writer else ""))
        return 0
    for item in results:
        reason = f": {item.reason}" if item.reason else ""
        where = f" at {item.tip[:10]}" if item.tip else ""
        failed = item.status in FAILED
        print(f"{item.status:<12} {item.writer}{where}{reason}",
              file=sys.stderr if failed else sys.stdout)
    return 1 if any(item.status in FAILED for item in results) else 0
