"""`git testlog verify`: signatures by trusted keys, chronicle, records, seals, epochs, rollback."""
from __future__ import annotations

import argparse
import json
import os

from testlog.audit import options
from testlog.audit.report import render, report_document
from testlog.audit.verifier import Policy, verify_log
from testlog.commands.arguments import add_branch_argument, add_json_argument
from testlog.config import repo_settings
from testlog.store.state import ARCHIVE, open_configured, state_path
from testlog.store.trust import trusted_certs

HELP = ("check every commit of the log branch: signed by a trusted key, one chronicle event "
        "matching its artifact, records, seals and epochs; flag rollbacks and forks")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--trusted-keys", metavar="FILE",
                        help="the keys to trust: armored OpenPGP public keys, or an SSH "
                             "allowed-signers file (default: config trusted_keys)")
    signing = parser.add_mutually_exclusive_group()
    signing.add_argument("--allow-unsigned", action="store_true",
                         help="with trusted keys, count unsigned commits instead of failing "
                              "them (a commit signed by a key that is not trusted still fails)")
    signing.add_argument("--require-signed", action="store_true",
                         help="an unsigned commit is a failure (the default with trusted keys; "
                              "without any, an error)")
    parser.add_argument("--since", metavar="REV",
                        help="verify only the commits after REV, a commit verified before "
                             "(`last`: the last verified tip)")
    parser.add_argument("--archive-dir", metavar="DIR",
                        help="where to look for retention bundles (default: config "
                             "archive_dir, else .git/testlog/archive)")
    parser.add_argument("--accept-rewrite", action="store_true",
                        help="report a branch that no longer contains the last verified tip "
                             "instead of failing (after a deliberate rewrite)")
    parser.add_argument("--deep", action="store_true",
                        help="also rebuild every record of compact run files and check them "
                             "against the digest the recorder wrote, and their OS entropy "
                             "files against the records (slower; the default checks each "
                             "run file against its signed event)")
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
        strict = args.require_signed or (trusted is not None and not args.allow_unsigned)
        policy = Policy(trusted, strict, dirs, args.accept_rewrite, args.deep)
        reports = verify_log(store, policy, args.since)
    failed = [r.ref for r in reports if not r.ok]
    code = 1 if failed else 0
    if args.json:
        print(json.dumps(report_document(reports, code), indent=2, sort_keys=True))
        return code
    print("\n\n".join(render(report) for report in reports))
    if len(reports) > 1:
        print(f"verify: {len(reports) - len(failed)} of {len(reports)} chains OK"
              + (f"; FAILED: {', '.join(failed)}" if failed else ""))
    return code
