"""Modules of a repository: folders holding `module.manifest.json`, and which ones a change touches."""
from __future__ import annotations

import posixpath
from collections.abc import Iterable

from testlog.core.manifest import MANIFEST, Manifest


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


def inside(path: str, folder: str) -> bool:
    """`path` is `folder` or below it ("" is the whole repository)."""
    return not folder or path == folder or path.startswith(folder.rstrip("/") + "/")


def measured_exclusions(manifest: Manifest, roots: Iterable[str]) -> list[str]:
    """What a module's coverage leaves out of its sources: its tests, and the modules nested in
    its sources (their files are theirs)."""
    nested = {r for source in manifest.sources for r in nested_roots(source, roots)
              if r != manifest.root}
    return sorted(set(manifest.tests) | nested)


def owns_source(manifest: Manifest, excluded: list[str], path: str) -> bool:
    """`path` is one of the module's own measured source files."""
    return any(inside(path, s) for s in manifest.sources) and \
        not any(inside(path, e) for e in excluded)


def outside_paths(manifest: Manifest) -> list[str]:
    """The module's declared sources and tests outside its own folder: part of what it is (a
    change there is a change of the module, for the cache as for the selection)."""
    return sorted({p for p in (*manifest.sources, *manifest.tests) if not inside(p, manifest.root)})


def identity_paths(manifest: Manifest) -> list[str]:
    return [manifest.root, *outside_paths(manifest)]


def claimed_by(manifests: Iterable[Manifest], changed: Iterable[str]) -> list[str]:
    """The module folders whose declared tests or sources hold a changed path (a module with a
    top-level `tests/` is affected by a change there), sorted."""
    paths = list(changed)
    hits = set()
    for m in manifests:
        declared = (*(m.tests if m.tests_declared else ()), *m.sources)
        if any(inside(p, folder) for folder in declared if folder != m.root for p in paths):
            hits.add(m.root)
    return sorted(hits)
