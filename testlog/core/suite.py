"""The default suite name, derived from the paths a run was given (`tests/unit` → `unit`)."""
from __future__ import annotations

import os
import re
from collections.abc import Sequence

_TEST_DIRS = {"tests", "test", "testing"}
_BAD = re.compile(r"[^A-Za-z0-9_.-]+")


def clean_suite(text: str) -> str:
    """Any text as a valid suite name: letters, digits, '_', '.', '-'; no '__'."""
    name = _BAD.sub("_", text)
    name = re.sub(r"_{2,}", "_", name).strip("_.-")
    return name or "tests"


def _relative_parts(arg: str, rootdir: str) -> list[str]:
    path = arg.split("::", 1)[0]
    absolute = os.path.normpath(os.path.join(rootdir, path))
    relative = os.path.relpath(absolute, rootdir)
    if relative == "." or relative.startswith(".."):
        return []
    parts = relative.replace(os.sep, "/").split("/")
    if parts and parts[-1].endswith(".py"):
        parts[-1] = parts[-1][:-3]
    return parts


def _common_prefix(lists: list[list[str]]) -> list[str]:
    prefix: list[str] = []
    for column in zip(*lists):
        if len(set(column)) != 1:
            break
        prefix.append(column[0])
    return prefix


def derive_suite(args: Sequence[str], rootdir: str) -> str:
    """Common directory of the test paths, less a leading `tests/`, joined with '_'.

    `tests/unit` → `unit`; `tests/unit/test_io.py` → `unit_test_io`; `tests` → `tests`;
    no path or the rootdir itself → the rootdir's name.
    """
    lists = [_relative_parts(a, rootdir) for a in args] or [[]]
    parts = _common_prefix(lists)
    if len(parts) > 1 and parts[0] in _TEST_DIRS:
        parts = parts[1:]
    return clean_suite("_".join(parts) if parts else os.path.basename(os.path.abspath(rootdir)))
