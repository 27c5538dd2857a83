"""Small monorepos for the gate tests: modules with manifests, code and tests, as real git repos."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from tests.fixtures import git, make_repo

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "monorepo"
BIN = os.path.dirname(sys.executable)   # git-testlog and pytest of this environment

# 4 statements, all run by its test: 100%.
FULL_CODE = "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n"
FULL_TEST = ("from {pkg}.code import double, triple\n\n\ndef test_it():\n"
             "    assert double(2) == 4 and triple(1) == 3\n")
# Only `double` is tested: 3 of 4 statements, 75%.
HALF_TEST = "from {pkg}.code import double\n\n\ndef test_it():\n    assert double(2) == 4\n"
FAILING_TEST = "def test_it():\n    assert 1 == 2\n"


def manifest(name: str, lane: str, target: float | None = None, sla: float | None = None) -> str:
    data: dict = {"module": name, "tags": [f"lane:{lane}"]}
    if target is not None:
        data["testing"] = {"coverage_target": target}
    if sla is not None:
        data["performance"] = {"sla_targets": {"latency_p95_ms": sla}}
    return json.dumps(data, indent=2) + "\n"


def module(folder: str, lane: str, test: str | None = FULL_TEST, **extra) -> dict[str, str]:
    pkg = folder.replace("/", ".")
    files = {f"{folder}/module.manifest.json": manifest(folder.split("/")[-1], lane, **extra),
             f"{folder}/__init__.py": "", f"{folder}/code.py": FULL_CODE}
    if test is not None:
        files[f"{folder}/tests/test_{pkg.replace('.', '_')}.py"] = test.format(pkg=pkg)
    return files


def mono_repo(path: Path, *modules: dict[str, str]) -> Path:
    files = {"README.md": "mono\n", ".gitignore": "__pycache__/\n"}
    for files_of_module in modules:
        files.update(files_of_module)
    return make_repo(path, files)


def example_repo(path: Path) -> Path:
    shutil.copytree(EXAMPLE, path, ignore=shutil.ignore_patterns("__pycache__"))
    make_repo(path, {"README.md": (path / "README.md").read_text()})
    return path


def commit_all(repo: Path, message: str) -> str:
    """Commit everything, bypassing hooks (the tests that exercise the hooks call git themselves)."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def ledger_paths(repo: Path, name: str = "coverage") -> list[str]:
    """The ledger's files on the log branch: one per day."""
    listed = git(repo, "ls-tree", "-r", "--name-only", "testlog", "--", f"ledger/{name}",
                 check=False)
    return listed.split()


def ledger(repo: Path, name: str = "coverage") -> list[dict]:
    text = "".join(git(repo, "show", f"testlog:{path}") for path in ledger_paths(repo, name))
    return [json.loads(line) for line in text.splitlines()]


def log_tip(repo: Path) -> str:
    return git(repo, "rev-parse", "--verify", "--quiet", "testlog", check=False).strip()
