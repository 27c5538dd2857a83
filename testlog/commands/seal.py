"""`git testlog seal`: a signed, deterministic audit bundle of a day's (or a range's) runs."""
from __future__ import annotations

import argparse
from datetime import datetime, timezone

from gitstore import changed_paths_between

from testlog.audit import options
from testlog.audit.seal import (
    already_sealed,
    build_seal,
    commit_seal,
    holds_runs,
    other_chains_files,
    read_files,
    sealed_paths,
    superseded_files,
)
from testlog.commands.arguments import add_branch_argument, add_signing_arguments
from testlog.config import repo_settings
from testlog.errors import UsageError
from testlog.store.runs import with_spec_files
from testlog.store.state import open_configured

HELP = ("bundle a period's runs/, timing/, determinism/ and summaries/ (earlier runs of a "
        "suite that day under superseded/<commit>/, other writers' under chains/<writer>/) into "
        "audit/logs_audit_YYYY_MM_DD.zip with a sha256sum manifest and a detached signature")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    period = parser.add_mutually_exclusive_group()
    period.add_argument("--date", metavar="YYYY-MM-DD",
                        help="seal the files dated this day (default: today, UTC)")
    period.add_argument("--since", metavar="REV",
                        help="seal the files changed after log commit REV of this clone's own "
                             "chain (named for today; other writers' chains are sealed by date)")
    # No --no-sign: a seal is its detached signature (an unsigned one would prove nothing).
    add_signing_arguments(parser, "the seal and its commit", unsigned=False)
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    values, _, _ = repo_settings(args.repo, {"branch": args.branch, "sign_key": args.sign_key})
    today = datetime.now(timezone.utc).date()
    day = options.parse_day(args.date) if args.date else today
    with open_configured(args.repo, values, sign=True) as store:
        if store.signer is None:
            raise UsageError("sealing needs a signing key: pass --sign-key KEY, or set git "
                               "config user.signingkey (or sign_key in the [testlog] config)")
        tip = store.require_tip()
        changed, since = None, None
        if args.since:
            since = store.resolve(args.since)
            changed = set(changed_paths_between(store.common_dir, since, tip))
        paths = sealed_paths(store.paths(rev=tip), None if changed is not None else day, changed)
        files = read_files(store, tip, paths)
        files.update(superseded_files(store, tip, paths, after=since))
        if changed is None:
            files.update(other_chains_files(store, day))
        if not holds_runs(files):
            period = f"after {args.since}" if args.since else day.isoformat()
            raise UsageError(f"no runs to seal for {period} on {store.ref} (nothing was "
                               "written; record a run first, or pick another --date)")
        files = with_spec_files(files)
        seal = build_seal(day, files)
        if already_sealed(store, seal):
            print(f"{seal.paths['zip']} already seals exactly these files: nothing to do")
            return 0
        sha = commit_seal(store, seal)
    for note in seal.notes:
        print(note)
    print(f"sealed {seal.runs} runs ({seal.members} files) into {seal.paths['zip']} "
          f"at {sha[:12]}\nexport for auditors: git testlog export {sha[:12]} -o DIR")
    return 0
