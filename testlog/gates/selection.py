"""Which modules a command works on: `--module M ...`, `--all` or `--affected [...]`."""
from __future__ import annotations

import argparse

from gitstore import changeset

from testlog.errors import TestlogError
from testlog.store.events import add_branch_argument
from testlog.core.manifest import Manifest, load_manifest
from testlog.core.modules import affected_modules
from testlog.gates.workspace import Workspace


def add_selection_arguments(parser: argparse.ArgumentParser) -> None:
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
    parser.add_argument("-j", "--jobs", type=int, default=1, metavar="N",
                        help="run N modules at once (default 1)")
    parser.add_argument("--no-cache", action="store_true",
                        help="re-run modules already measured at the same tree in the same "
                             "environment")
    parser.add_argument("--update-manifests", action="store_true",
                        help="write the observed values back into each module.manifest.json")
    add_branch_argument(parser)
    parser.add_argument("--sign-key", default=None, metavar="KEY",
                        help="sign the ledger commit with KEY (default: git's user.signingkey)")


def check_options(args: argparse.Namespace) -> None:
    if (args.from_rev or args.to_rev or args.staged) and not args.affected:
        raise TestlogError("--from, --to and --staged go with --affected")
    if args.staged and (args.from_rev or args.to_rev):
        raise TestlogError("use either --staged or --from/--to, not both")
    if args.to_rev and not args.from_rev:
        raise TestlogError("--to needs --from (the start of the range)")
    if args.jobs < 1:
        raise TestlogError(f"-j {args.jobs}: use a positive number of parallel modules")


def changed_for(ws: Workspace, args: argparse.Namespace) -> list[str]:
    if args.staged:
        return changeset.staged_files(ws.root)
    if args.from_rev:
        revs = [args.from_rev, args.to_rev or "HEAD"]
        for rev in revs:
            if changeset.commit_sha(ws.root, rev) is None:
                raise TestlogError(f"unknown revision {rev!r} (give a commit, branch or tag)")
        return changeset.changed_files(ws.root, *revs)
    return changeset.worktree_changes(ws.root)


def load_all(ws: Workspace, roots: list[str]) -> list[Manifest]:
    return [load_manifest(ws.root, r) for r in roots]


def by_name_or_folder(ws: Workspace, wanted: list[str]) -> list[Manifest]:
    manifests = load_all(ws, list(ws.all_roots))
    chosen: dict[str, Manifest] = {}
    for name in wanted:
        folder = name.strip().removeprefix("./").rstrip("/")
        folder = "" if folder == "." else folder
        hits = [m for m in manifests if m.root == folder] or [m for m in manifests if m.name == name]
        if not hits:
            raise TestlogError(f"no module {name!r} here (a module is a folder with "
                               "module.manifest.json; `--all` lists them)")
        if len(hits) > 1:
            raise TestlogError(f"module name {name!r} is used by {', '.join(m.label for m in hits)}: "
                               "give the folder instead")
        chosen[hits[0].root] = hits[0]
    return [chosen[r] for r in sorted(chosen)]


def select(ws: Workspace, args: argparse.Namespace) -> tuple[list[Manifest], str]:
    """(the selected modules' manifests, sorted by folder; a description of the selection)."""
    check_options(args)
    if args.module:
        return by_name_or_folder(ws, args.module), "modules " + " ".join(args.module)
    if args.all:
        return load_all(ws, list(ws.all_roots)), "all modules"
    roots = affected_modules(changed_for(ws, args), ws.all_roots)
    what = ("staged changes" if args.staged else f"{args.from_rev}..{args.to_rev or 'HEAD'}"
            if args.from_rev else "uncommitted changes")
    return load_all(ws, roots), f"modules affected by {what}"
