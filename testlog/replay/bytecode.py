"""Seed a fresh replay checkout's bytecode caches from the user's own work tree.

The first replay of a source compiles and assertion-rewrites every test module again, which
can cost a third of the run. The user's tree usually holds those compiled files already.
Only *checked hash-based* pycs (PEP 552; pytest >= 9 writes its rewritten modules that way)
are copied: whoever loads one (pytest or importlib) checks it against the hash of the source
next to it and recompiles on any difference, so a copied file can make a replay faster and
never run other code than the checkout's. Timestamp pycs are left alone: a new checkout's
mtimes make them useless, and re-stamping them would trust a (mtime, size) match.
"""
from __future__ import annotations

import contextlib
import os
import shutil

BYTECODE = "__pycache__"
CHECKED_HASH = b"\x03\x00\x00\x00"      # flags word of a checked hash-based pyc
SKIPPED = frozenset((".git", ".venv", "venv", BYTECODE, ".tox", ".nox", "node_modules"))


def cache_dir(source_dir: str, prefix: str | None) -> str:
    """Where CPython and pytest keep the pycs of the modules in `source_dir`."""
    if prefix:
        return os.path.join(prefix, os.path.abspath(source_dir).lstrip(os.sep))
    return os.path.join(source_dir, BYTECODE)


def checked_hash(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            header = handle.read(8)
    except OSError:
        return False
    return len(header) == 8 and header[4:] == CHECKED_HASH


def seed_bytecode(user_root: str, checkout_root: str, prefix: str | None = None,
                  target_prefix: str | None = None) -> int:
    """Copy the checked hash-based pycs the user's tree holds (under their PYTHONPYCACHEPREFIX
    `prefix`, if any) for modules present in both into the checkout's cache (under
    `target_prefix`, the replay's private one, if given); never overwrites. Returns how many
    were copied."""
    copied = 0
    for folder, dirs, files in os.walk(checkout_root):
        dirs[:] = [d for d in dirs if d not in SKIPPED]
        stems = {name[:-3] for name in files if name.endswith(".py")}
        if not stems:
            continue
        relative = os.path.relpath(folder, checkout_root)
        theirs = cache_dir(os.path.normpath(os.path.join(user_root, relative)), prefix)
        try:
            names = os.listdir(theirs)
        except OSError:
            continue
        wanted = [n for n in names if n.endswith(".pyc") and n.split(".", 1)[0] in stems]
        if not wanted:
            continue
        ours = cache_dir(folder, target_prefix)
        for name in wanted:
            source, target = os.path.join(theirs, name), os.path.join(ours, name)
            if os.path.exists(target) or not checked_hash(source):
                continue
            # Whole or not at all: a workspace's pycs outlive the replay that wrote them.
            partial = f"{target}.{os.getpid()}.tmp"
            try:
                os.makedirs(ours, exist_ok=True)
                shutil.copyfile(source, partial)
                os.replace(partial, target)
            except OSError:
                with contextlib.suppress(OSError):
                    os.unlink(partial)
                continue        # a cache, never a reason to fail the replay
            copied += 1
    return copied
