"""Options several commands share, and turning them into what the lower layers take."""
from __future__ import annotations

import argparse

from testlog.errors import UsageError
from testlog.gates.selection import Selection


def add_signing_arguments(parser: argparse.ArgumentParser, what: str,
                          unsigned: bool = True) -> None:
    """The one declaration of --sign-key KEY (and --no-sign, where an unsigned write is
    possible) for every command that signs `what`."""
    group = parser.add_mutually_exclusive_group() if unsigned else parser
    group.add_argument("--sign-key", default=None, metavar="KEY",
                       help=f"sign {what} with KEY: a gpg key id, fingerprint or user id, or "
                            "with gpg.format=ssh an SSH key file (default: config sign_key, "
                            "else git's user.signingkey)")
    if unsigned:
        group.add_argument("--no-sign", action="store_true",
                           help=f"do not sign {what}, even when a key is configured")


def sign_choice(args: argparse.Namespace) -> str | bool | None:
    """What the command line says about signing: False (--no-sign), a key, or None (config)."""
    return False if getattr(args, "no_sign", False) else args.sign_key


def add_branch_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--branch", default=None, metavar="REF",
                        help="the log branch (default: config `branch`, else refs/heads/testlog)")


TESTS_START = ("Each module's tests run in the project's interpreter, started while "
               "git-testlog loads; a test can tell by `-c` in sys.orig_argv and a heap frozen "
               "once pytest is imported. `prestart = false` (or TESTLOG_PRESTART=false) runs a "
               "plain `python -m pytest` instead. See docs/gates.md, Speed.")


def say_how_tests_start(parser: argparse.ArgumentParser) -> None:
    """For the commands that run the project's tests (cov, gate, bench, hook)."""
    parser.epilog = TESTS_START


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    say_how_tests_start(parser)                 # the commands that select modules test them
    pick = parser.add_mutually_exclusive_group(required=True)
    pick.add_argument("--module", nargs="+", metavar="M",
                      help="these modules (the manifest's `module` name or the folder)")
    pick.add_argument("--all", action="store_true", help="every module of the repository")
    pick.add_argument("--affected", action="store_true",
                      help="the modules that own a changed file: --from/--to, --staged, or by "
                           "default the uncommitted changes (staged, unstaged, untracked)")
    parser.add_argument("--from", dest="from_rev", metavar="REV",
                        help="with --affected: files changed from REV ...")
    parser.add_argument("--to", dest="to_rev", metavar="REV", help="... to REV (default HEAD)")
    parser.add_argument("--staged", action="store_true", help="with --affected: the staged files")
    parser.add_argument("--base", metavar="REV",
                        help="gate: the commit whose coverage (or benchmark times) the delta "
                             "compares with (default: --from, HEAD for uncommitted changes, "
                             "else the merge-base of HEAD with origin's default branch)")
    parser.add_argument("--allow-empty", action="store_true",
                        help="gate: pass when nothing was checked (no module, or every module "
                             "skipped); without it that fails")
    add_json_argument(parser)
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="run N modules at once (default 1)")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run modules already measured at the same tree in the same "
                             "environment")
    parser.add_argument("--update-manifests", action="store_true",
                        help="write the observed values back into each module.manifest.json")
    add_branch_argument(parser)
    add_signing_arguments(parser, "the ledger commit")


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document on stdout (the shape is in docs/gates.md); "
                             "the progress text goes to stderr")


def selection_of(args: argparse.Namespace) -> Selection:
    if args.jobs < 1:
        raise UsageError(f"-j {args.jobs}: use a positive number of parallel modules")
    return Selection(modules=tuple(args.module or ()), all=args.all, affected=args.affected,
                     from_rev=args.from_rev, to_rev=args.to_rev, staged=args.staged,
                     base=args.base)
