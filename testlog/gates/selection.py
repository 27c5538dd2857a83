"""Which modules a command works on: named modules, all of them, or those a change touches;
and the range a gate judges them against."""
from __future__ import annotations

import os
from dataclasses import dataclass

from gitstore import changed_files, commit_sha, shallow_hint, staged_files, worktree_changes

from testlog.core.manifest import Manifest, manifest_path, parse_manifest
from testlog.core.modules import affected_modules, claimed_by
from testlog.errors import UsageError
from testlog.gates.gaterange import GateRange, Ranges, explicit_range
from testlog.gates.workspace import Workspace

DEFAULT_REMOTE = "origin"


@dataclass(frozen=True)
class Selection:
    """`--module M ...`, `--all` or `--affected` (from `--from`/`--to`, `--staged`, or the
    uncommitted changes); `--base REV` for the gate's reference."""
    modules: tuple[str, ...] = ()
    all: bool = False
    affected: bool = False
    from_rev: str | None = None
    to_rev: str | None = None
    staged: bool = False
    base: str | None = None


@dataclass(frozen=True)
class Selected:
    manifests: list[Manifest]
    description: str
    ranges: Ranges
    range_note: str = ""          # why there is no base to compare with
    from_change: bool = False     # the modules a change touches (none touched is no failure)


def check_selection(sel: Selection) -> None:
    if (sel.from_rev or sel.to_rev or sel.staged) and not sel.affected:
        raise UsageError("--from, --to and --staged go with --affected")
    if sel.staged and (sel.from_rev or sel.to_rev):
        raise UsageError("use either --staged or --from/--to, not both")
    if sel.to_rev and not sel.from_rev:
        raise UsageError("--to needs --from (the start of the range)")


def changed_for(ws: Workspace, sel: Selection) -> list[str]:
    if sel.staged:
        return staged_files(ws.root)
    if sel.from_rev:
        revs = [sel.from_rev, sel.to_rev or "HEAD"]
        for rev in revs:
            if commit_sha(ws.root, rev) is None:
                raise UsageError(f"unknown revision {rev!r} (give a commit, branch or tag"
                                 f"{shallow_hint(ws.root)})")
        return changed_files(ws.root, *revs)
    return worktree_changes(ws.root)


def manifest_text(repo_root: str, root: str) -> str:
    path = os.path.join(repo_root, manifest_path(root))
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{manifest_path(root)}: cannot be read ({exc})") from None


def load_manifest(repo_root: str, root: str) -> Manifest:
    return parse_manifest(manifest_text(repo_root, root), root)


def load_all(ws: Workspace, roots: list[str]) -> list[Manifest]:
    return [load_manifest(ws.root, r) for r in roots]


def affected(ws: Workspace, files: list[str]) -> list[Manifest]:
    """The modules that own a changed file, or declare it among their tests or sources (only
    the manifests that name such paths, and the owners, are parsed: a hook starts sooner)."""
    owners = set(affected_modules(files, ws.all_roots))
    texts = {root: manifest_text(ws.root, root) for root in ws.all_roots}
    declaring = [parse_manifest(text, root) for root, text in texts.items()
                 if root not in owners and ('"tests"' in text or '"sources"' in text)]
    roots = owners | set(claimed_by(declaring, files))
    return [parse_manifest(texts[root], root) for root in sorted(roots)]


def by_name_or_folder(ws: Workspace, wanted: tuple[str, ...]) -> list[Manifest]:
    manifests = load_all(ws, list(ws.all_roots))
    chosen: dict[str, Manifest] = {}
    for name in wanted:
        folder = name.strip().removeprefix("./").rstrip("/")
        folder = "" if folder == "." else folder
        hits = [m for m in manifests if m.root == folder] or [m for m in manifests if m.name == name]
        if not hits:
            raise UsageError(f"no module {name!r} here (a module is a folder with "
                             "module.manifest.json; `--all` lists them)")
        if len(hits) > 1:
            raise UsageError(f"module name {name!r} is used by {', '.join(m.label for m in hits)}: "
                             "give the folder instead")
        chosen[hits[0].root] = hits[0]
    return [chosen[r] for r in sorted(chosen)]


def gate_range(ws: Workspace, sel: Selection) -> tuple[GateRange | None, str]:
    """The range the gate judges against, or (None, why there is none)."""
    uncommitted = sel.affected and not sel.from_rev
    found = explicit_range(ws.root, ws.head, sel.base, sel.from_rev, uncommitted, DEFAULT_REMOTE)
    if found is None:
        return None, ("no base to compare with (no --base, and no merge-base with "
                      f"{DEFAULT_REMOTE}'s default branch): the coverage delta and changed-lines "
                      "checks are skipped")
    return found, ""


def select(ws: Workspace, sel: Selection, gate: bool = False) -> Selected:
    """The selected modules' manifests (sorted by folder), described, with their range."""
    check_selection(sel)
    found, note = gate_range(ws, sel) if gate else (None, "")
    ranges = Ranges(default=found)
    if sel.modules:
        return Selected(by_name_or_folder(ws, sel.modules), "modules " + " ".join(sel.modules),
                        ranges, note)
    if sel.all:
        return Selected(load_all(ws, list(ws.all_roots)), "all modules", ranges, note)
    what = ("staged changes" if sel.staged else f"{sel.from_rev}..{sel.to_rev or 'HEAD'}"
            if sel.from_rev else "uncommitted changes")
    return Selected(affected(ws, changed_for(ws, sel)), f"modules affected by {what}", ranges,
                    note, from_change=True)
