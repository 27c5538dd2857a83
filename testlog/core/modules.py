"""Modules of a repository: folders holding `module.manifest.json`, and which ones a change touches."""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from testlog.core.manifest import MANIFEST


def module_roots(paths: Iterable[str]) -> list[str]:
    """The folders (repository-relative, "" for the root) that hold a manifest, sorted."""
    roots = {posixpath.dirname(p) for p in paths if posixpath.basename(p) == MANIFEST}
    return sorted(roots)


def owning_module(path: str, roots: set[str]) -> str | None:
    """The deepest module folder that encloses `path`, or None when no module does."""
    folder = posixpath.dirname(path)
    while True:
        if folder in roots:
            return folder
        if not folder:
            return None
        folder = posixpath.dirname(folder)


def affected_modules(changed: Iterable[str], roots: Iterable[str]) -> list[str]:
    """The module folders that own at least one changed path, sorted."""
    known = set(roots)
    owners = {owning_module(p, known) for p in changed}
    return sorted(r for r in owners if r is not None)


def nested_roots(root: str, roots: Iterable[str]) -> list[str]:
    """Module folders strictly inside `root`: their files belong to them, not to `root`."""
    prefix = f"{root}/" if root else ""
    return sorted(r for r in roots if r != root and r.startswith(prefix))
