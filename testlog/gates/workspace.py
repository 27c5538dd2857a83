"""What a measurement needs to know about the repository: its modules, HEAD, each module's tree
sha and whether it is dirty, the project's interpreter, and scratch space outside the tree."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from gitstore import head_commit, listed_files, locate, tree_shas, worktree_changes

from testlog.config import Setting, flag, load_settings
from testlog.core.modules import inside, module_roots
from testlog.errors import UsageError
from testlog.gates.childenv import base_env
from testlog.gates.interpreter import Interpreter, probe, project_python
from testlog.gates.later import Later
from testlog.gates.warmpython import Starter, WarmPython, take_early
from testlog.store.state import INTERPRETERS, state_path


@dataclass(frozen=True)
class Workspace:
    root: str                     # top of the working tree
    state_dir: str                # <git common dir>/testlog: ours, never the working tree
    settings: dict[str, Setting]
    all_roots: tuple[str, ...]    # every module folder of the working tree
    head: str | None
    scratch: str
    common_dir: str = ""          # git's common dir: objects, refs
    starter: Starter | None = None  # how tests start (None: `prestart = false`, plainly)


def repo_top(path: str) -> tuple[str, str]:
    """(top of the working tree, git common dir); a bare repository has no modules to test."""
    common, _git_dir, top = locate(path)
    if top is None:
        raise UsageError(f"{os.path.abspath(path)} is a bare repository: run this in a "
                           "checkout (modules and their tests live in the working tree)")
    return top, common


@contextmanager
def open_workspace(path: str, cli: dict | None = None,
                   prestart: bool = False) -> Iterator[Workspace]:
    """With `prestart`, the project's interpreter starts importing pytest at once (for a
    command that will most likely run the tests in the working tree)."""
    top, common = repo_top(path)
    files, head = Later(lambda: listed_files(top)), Later(lambda: head_commit(top))
    settings = load_settings(top, cli)                   # three git questions at once
    enabled = prestart and flag(settings["prestart"], "prestart")   # a bad value: exit 2, and
    early = take_early()                  # the early one, not taken yet, is stopped at exit
    if enabled:
        starter: Starter | None = Starter(prestarted(top, settings["python"], early))
    else:
        starter = None
        if early is not None:
            early.close()
    try:
        roots = tuple(module_roots(files.result()))
        scratch = tempfile.mkdtemp(prefix="git-testlog-")
        try:
            yield Workspace(top, state_path(common), settings, roots, head.result(), scratch,
                            common, starter)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    finally:
        if starter is not None:
            starter.close()


def prestarted(top: str, configured: Setting, early: WarmPython | None) -> WarmPython | None:
    """The interpreter started early when it is the right one here, else one started now."""
    try:
        python, _source = project_python(top, configured)
    except UsageError:
        python = None                 # said where the interpreter is needed, if it is
    if early is not None and early.python == python and early.cwd == os.path.realpath(top):
        return early
    if early is not None:
        early.close()
    return WarmPython.start(python, top, base_env()) if python else None


def interpreter(ws: Workspace) -> Interpreter:
    return probe(ws.root, ws.settings["python"], os.path.join(ws.state_dir, INTERPRETERS))


def module_trees(ws: Workspace, paths: list[str]) -> dict[str, str]:
    """Each folder's (or file's) object sha at HEAD (absent for a path HEAD does not have)."""
    return tree_shas(ws.root, ws.head, paths) if ws.head else {}


def dirty_roots(ws: Workspace, paths: list[str]) -> set[str]:
    """The paths with any uncommitted change inside (staged, unstaged or untracked)."""
    changed = worktree_changes(ws.root)
    return {r for r in paths if any(inside(p, r) for p in changed)}
