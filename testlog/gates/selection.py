"""Which modules a command works on: named modules, all of them, or those a change touches."""
from __future__ import annotations

import os
from dataclasses import dataclass

from gitstore import changed_files, commit_sha, shallow_hint, staged_files, worktree_changes

from testlog.core.manifest import Manifest, manifest_path, parse_manifest
from testlog.core.modules import affected_modules
from testlog.errors import TestlogError
from testlog.gates.workspace import Workspace


@dataclass(frozen=True)
class Selection:
    """`--module M ...`, `--all` or `--affected` (from `--from`/`--to`, `--staged`, or the
    uncommitted changes)."""
    modules: tuple[str, ...] = ()
    all: bool = False
    affected: bool = False
    from_rev: str | None = None
    to_rev: str | None = None
    staged: bool = False


def check_selection(sel: Selection) -> None:
    if (sel.from_rev or sel.to_rev or sel.staged) and not sel.affected:
        raise TestlogError("--from, --to and --staged go with --affected")
    if sel.staged and (sel.from_rev or sel.to_rev):
        raise TestlogError("use either --staged or --from/--to, not both")
    if sel.to_rev and not sel.from_rev:
        raise TestlogError("--to needs --from (the start of the range)")


def changed_for(ws: Workspace, sel: Selection) -> list[str]:
    if sel.staged:
        return staged_files(ws.root)
    if sel.from_rev:
        revs = [sel.from_rev, sel.to_rev or "HEAD"]
        for rev in revs:
            if commit_sha(ws.root, rev) is None:
                raise TestlogError(f"unknown revision {rev!r} (give a commit, branch or tag"
                                   f"{shallow_hint(ws.root)})")
        return changed_files(ws.root, *revs)
    return worktree_changes(ws.root)


def load_manifest(repo_root: str, root: str) -> Manifest:
    path = os.path.join(repo_root, manifest_path(root))
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise TestlogError(f"{manifest_path(root)}: cannot be read ({exc})") from None
    return parse_manifest(text, root)


def load_all(ws: Workspace, roots: list[str]) -> list[Manifest]:
    return [load_manifest(ws.root, r) for r in roots]


def by_name_or_folder(ws: Workspace, wanted: tuple[str, ...]) -> list[Manifest]:
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


def select(ws: Workspace, sel: Selection) -> tuple[list[Manifest], str]:
    """(the selected modules' manifests, sorted by folder; a description of the selection)."""
    check_selection(sel)
    if sel.modules:
        return by_name_or_folder(ws, sel.modules), "modules " + " ".join(sel.modules)
    if sel.all:
        return load_all(ws, list(ws.all_roots)), "all modules"
    roots = affected_modules(changed_for(ws, sel), ws.all_roots)
    what = ("staged changes" if sel.staged else f"{sel.from_rev}..{sel.to_rev or 'HEAD'}"
            if sel.from_rev else "uncommitted changes")
    return load_all(ws, roots), f"modules affected by {what}"
