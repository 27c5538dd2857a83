"""Seed an RNG the moment its library finishes importing (during collection or inside a test).

NumPy seeds its global RNG from OS entropy at import, so a module-level `np.random.rand()`
in a test file would differ on every run. A meta-path finder wraps the loader of each watched
module and calls back right after the module's code has run, before anything can draw.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

Around = Callable[[], contextlib.AbstractContextManager[Any]]


class _CallbackLoader(importlib.abc.Loader):
    """Delegates to the real loader (its exec_module inside `around`); after exec_module,
    puts it back and calls back."""

    def __init__(self, loader: Any, callback: Callable[[], None], around: Around) -> None:
        self._loader, self._callback, self._around = loader, callback, around

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        try:
            with self._around():
                self._loader.exec_module(module)
        finally:
            module.__loader__ = self._loader
            if module.__spec__ is not None:
                module.__spec__.loader = self._loader
        self._callback()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class SeedOnImport(importlib.abc.MetaPathFinder):
    """Calls `on_import(name)` once each watched module has been imported; its code runs
    inside `around()` (e.g. a pause of the entropy capture)."""

    def __init__(self, names: set[str], on_import: Callable[[str], None],
                 around: Around = contextlib.nullcontext) -> None:
        self.names, self.on_import, self.around = set(names), on_import, around
        self._busy: set[str] = set()

    def find_spec(self, fullname: str, path: Any, target: Any = None) -> Any:
        if fullname not in self.names or fullname in self._busy:
            return None
        self._busy.add(fullname)
        try:
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            for finder in sys.meta_path:
                if spec is not None:
                    break
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(fullname, path, target)
        finally:
            self._busy.discard(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        self.names.discard(fullname)
        spec.loader = _CallbackLoader(spec.loader, lambda: self.on_import(fullname), self.around)
        return spec

    def install(self) -> SeedOnImport:
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        return self

    def uninstall(self) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
