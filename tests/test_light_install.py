"""A light core install: `pip install .` into a fresh virtualenv brings only what recording and
the log need, and a project's plain `pytest` runs exactly as it did before the install."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures import git, make_repo

ROOT = Path(__file__).resolve().parent.parent
NOT_INSTALLED = {"numpy", "psutil", "pytest-cov", "pytest-benchmark", "python-gnupg", "coverage",
                 "py-cpuinfo"}

# A project whose conftest.py writes down the plugins pytest has active (by distribution and
# by name) and whether the testlog fixtures work without numpy.
PROJECT = {
    "conftest.py": """\
import json, os


def pytest_sessionfinish(session):
    manager = session.config.pluginmanager
    dists = sorted({d.project_name for _, d in manager.list_plugin_distinfo()})
    names = sorted(n for n, p in manager.list_name_plugin() if p is not None and n.isidentifier()
                   and not n.startswith(("_pytest", "session", "pytestconfig", "terminal")))
    with open(os.environ["PLUGINS_OUT"], "w") as handle:
        json.dump({"dists": dists, "names": names}, handle)
""",
    "tests/test_plain.py": """\
import random


def test_passes():
    assert random.random() < 1.0


def test_fails():
    assert 1 == 2
""",
}
FIXTURES = """\
def test_declares(testlog):
    testlog.output("value", 3)


def test_numpy_generator(testlog_rng):
    pass
"""


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding `pip install <this repository>` and nothing else."""
    base = tmp_path_factory.mktemp("light")
    source = base / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", ".mypy_cache",
        ".ruff_cache", ".pytest_cache"))
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True)
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(source)], base, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return venv


def installed(venv: Path) -> set[str]:
    proc = run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"], venv,
               dict(os.environ))
    return {p["name"].lower() for p in json.loads(proc.stdout)}


@pytest.mark.slow
def test_pip_install_brings_only_what_recording_needs(fresh_venv: Path):
    names = installed(fresh_venv)
    assert {"git-testlog", "cryptography", "dulwich", "pysequoia", "pytest"} <= names
    assert not names & NOT_INSTALLED, names & NOT_INSTALLED


def tree(path: Path) -> set[str]:
    """Every file and folder under `path` but .git."""
    return {str(p.relative_to(path)) for p in path.rglob("*") if ".git" not in p.parts}


@pytest.mark.slow
def test_a_plain_pytest_run_is_unchanged_by_the_install(fresh_venv: Path, tmp_path: Path,
                                                        sandbox: dict[str, str]):
    """The same project run twice, with our plugin and with it blocked: same exit status, same
    outcomes, same files and folders left behind, and no plugin active but pytest's and ours."""
    python = str(fresh_venv / "bin" / "python")
    results = {}
    for variant, extra in (("installed", []), ("blocked", ["-p", "no:testlog"])):
        project = make_repo(tmp_path / variant, PROJECT)
        before = tree(project)
        env = {**os.environ, **sandbox, "PLUGINS_OUT": str(tmp_path / f"{variant}.json"),
               "PYTHONDONTWRITEBYTECODE": "1"}
        env.pop("PYTEST_ADDOPTS", None)
        proc = run([python, "-m", "pytest", "-rA", "-p", "no:randomly", *extra], project, env)
        outcomes = sorted(line for line in proc.stdout.splitlines()
                          if line.startswith(("PASSED", "FAILED", "ERROR")))
        results[variant] = (proc.returncode, outcomes, tree(project) - before,
                            json.loads((tmp_path / f"{variant}.json").read_text()))
        assert git(project, "status", "--porcelain", "--ignored") == \
            "!! .pytest_cache/\n"      # pytest's own cache, as without git-testlog
    code, outcomes, new_paths, plugins = results["installed"]
    assert (code, outcomes, new_paths) == results["blocked"][:3]
    assert code == 1 and len(outcomes) == 2
    assert plugins["dists"] == ["git-testlog"], plugins
    assert results["blocked"][3]["dists"] == []
    assert set(plugins["names"]) - set(results["blocked"][3]["names"]) == {"testlog"}


@pytest.mark.slow
def test_the_fixtures_work_without_numpy_but_testlog_rng_says_why(fresh_venv: Path,
                                                                  tmp_path: Path):
    project = make_repo(tmp_path / "proj", {"tests/test_fixtures.py": FIXTURES})
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = run([str(fresh_venv / "bin" / "python"), "-m", "pytest", "-rA", "-p",
                "no:cacheprovider"], project, env)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "PASSED tests/test_fixtures.py::test_declares" in proc.stdout
    assert "ERROR tests/test_fixtures.py::test_numpy_generator - Failed: " in proc.stdout
    assert "\nthe testlog_rng fixture is a numpy Generator, and numpy is not installed here: " \
           "`pip install numpy` (or git-testlog[numpy])\n" in proc.stdout, proc.stdout
    assert "Traceback" not in proc.stdout and "No module named" not in proc.stdout


@pytest.mark.slow
def test_the_core_install_records_a_run(fresh_venv: Path, tmp_path: Path,
                                        sandbox: dict[str, str]):
    project = make_repo(tmp_path / "proj", {"tests/test_one.py": "def test_one():\n    pass\n"})
    env = {**os.environ, **sandbox, "PYTHONDONTWRITEBYTECODE": "1"}
    proc = run([str(fresh_venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "--testlog"], project, env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recorded as" in proc.stdout
    assert git(project, "rev-list", "--count", "testlog").strip() == "1"
