"""`git testlog verify`: signatures by trusted keys, chronicle, records, seals, epochs, rollback."""
from __future__ import annotations

import argparse
import json
import os

from testlog.audit import options
from testlog.audit.report import render, report_document
from testlog.audit.trust import trusted_certs
from testlog.audit.verifier import Policy, verify_branch
from testlog.commands.arguments import add_branch_argument, add_json_argument
from testlog.config import repo_settings
from testlog.store.state import ARCHIVE, open_configured, state_path

HELP = ("check every commit of the log branch: signed by a trusted key, one chronicle event "
        "matching its artifact, records, seals and epochs; flag rollbacks and forks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trusted-keys", metavar="FILE",
                        help="armored public keys to trust (default: config trusted_keys)")
    parser.add_argument("--require-signed", action="store_true",
                        help="an unsigned commit is a failure (default: reported, allowed)")
    parser.add_argument("--since", metavar="REV",
                        help="verify only the commits after REV, a commit verified before "
                             "(`last`: the last verified tip)")
    parser.add_argument("--archive-dir", metavar="DIR",
                        help="where to look for retention bundles (default: config "
                             "archive_dir, else .git/testlog/archive)")
    parser.add_argument("--accept-rewrite", action="store_true",
                        help="report a branch that no longer contains the last verified tip "
                             "instead of failing (after a deliberate rewrite)")
    add_json_argument(parser)
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    cli = {"branch": args.branch,
           "archive_dir": os.path.abspath(args.archive_dir) if args.archive_dir else None}
    values, root, common = repo_settings(args.repo, cli)
    trusted = trusted_certs(args.trusted_keys, values["trusted_keys"], root, common)
    with open_configured(args.repo, values, sign=False) as store:
        default_archive = state_path(store.common_dir, ARCHIVE)
        dirs = tuple(dict.fromkeys([options.archive_dir(values, root, common), default_archive]))
        policy = Policy(trusted, args.require_signed, dirs, args.accept_rewrite)
        report = verify_branch(store, policy, args.since)
    code = 0 if report.ok else 1
    if args.json:
        print(json.dumps(report_document(report, code), indent=2, sort_keys=True))
    else:
        print(render(report))
    return code
