"""`git testlog prune`: rotation (old files leave the tip in one signed commit) and retention
(history older than the window goes to a git bundle; the branch restarts at a signed epoch)."""
from __future__ import annotations

import argparse
import os

from testlog.audit import options
from testlog.audit.prune import retain, retention_plan, rotate, rotation_plan
from testlog.commands.arguments import add_branch_argument, add_signing_arguments, sign_choice
from testlog.config import repo_settings
from testlog.errors import UsageError
from testlog.store.state import open_configured

HELP = ("rotate old run files off the tip (history keeps them) and archive history older than "
        "the retention window to a git bundle, restarting the branch at a signed epoch")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rotate-days", type=int, metavar="N",
                        help="files dated more than N days ago leave the tip (default: config "
                             "rotate_days, else 30)")
    parser.add_argument("--retain-days", type=int, metavar="N",
                        help="history older than N days is archived (default: config "
                             "retain_days, else 90)")
    parser.add_argument("--archive-dir", metavar="DIR",
                        help="where the bundle goes (default: config archive_dir, else "
                             ".git/testlog/archive)")
    parser.add_argument("--as-of", metavar="WHEN",
                        help="judge ages as of this UTC date or time instead of now "
                             "(YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")
    parser.add_argument("--dry-run", action="store_true", help="say what would happen, write nothing")
    add_signing_arguments(parser, "the rotation and epoch commits")
    add_branch_argument(parser)


def run(args: argparse.Namespace) -> int:
    cli = {"branch": args.branch, "sign_key": sign_choice(args), "rotate_days": args.rotate_days,
           "retain_days": args.retain_days,
           "archive_dir": os.path.abspath(args.archive_dir) if args.archive_dir else None}
    values, root, common = repo_settings(args.repo, cli)
    rotate_days = options.whole_days(values["rotate_days"], "rotate_days")
    retain_days = options.whole_days(values["retain_days"], "retain_days")
    as_of = options.parse_moment(args.as_of)
    archive = options.archive_dir(values, root, common)
    options.check_archive_dir(archive)
    with open_configured(args.repo, values, sign=not args.dry_run) as store:
        store.require_tip()
        if not args.dry_run and store.signer is None and not args.no_sign:
            raise UsageError("prune writes signed commits: pass --sign-key KEY, or set git "
                               "config user.signingkey (or sign_key in the [testlog] config), "
                               "or --no-sign for an unsigned log")
        old = rotation_plan(store, as_of, rotate_days)
        print(f"rotation: {len(old)} files dated more than {rotate_days} days before "
              f"{as_of.date()}" + ("" if old else " (nothing to do)"))
        if old and not args.dry_run:
            print(f"rotation: committed {rotate(store, as_of, rotate_days, old)[:12]}")
        plan = retention_plan(store, as_of, retain_days)
        if plan is None:
            print(f"retention: no history older than {retain_days} days (nothing to do)")
            return 0
        print(f"retention: {plan.archived} commits older than {retain_days} days leave the "
              f"branch, {len(plan.rebuilt)} newer commits are rebuilt on a signed epoch")
        if args.dry_run:
            return 0
        bundle, shas = retain(store, plan, archive, as_of, retain_days)
    print(f"retention: archived {plan.tip[:12]} and its history to {bundle}\n"
          f"retention: epoch {shas[0][:12]}, branch now at {shas[-1][:12]}\n"
          f"restore with: git fetch {bundle} {store.ref}:refs/testlog/archive/{plan.tip[:12]}")
    return 0
