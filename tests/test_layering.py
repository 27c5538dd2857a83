"""Imports only go downward: gitstore never imports testlog; the core never imports pytest."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The one folder allowed to import pytest: the plugin.
PYTEST_ALLOWED = "plugin"


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_gitstore_imports_neither_testlog_nor_pytest_nor_numpy():
    for path in (ROOT / "gitstore").rglob("*.py"):
        bad = imported_modules(path) & {"testlog", "pytest", "numpy", "torch"}
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_testlog_core_does_not_import_pytest():
    for path in (ROOT / "testlog").rglob("*.py"):
        if PYTEST_ALLOWED in path.relative_to(ROOT / "testlog").parts[:1] or "pytest" in path.parts[-2]:
            continue
        assert "pytest" not in imported_modules(path), f"{path.relative_to(ROOT)} imports pytest"
