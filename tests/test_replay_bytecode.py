"""Seeding a replay checkout with the user's compiled test modules: real pytest runs write the
pycs, real pytest runs in the checkout prove a copied pyc is used when the source matches and
rejected (recompiled) when it does not."""
from __future__ import annotations

import glob
import os
import py_compile
import subprocess
import sys
from pathlib import Path

from testlog.replay.bytecode import seed_bytecode

PASSING = "def test_a():\n    assert 1 == 1\n"
SAME_SIZE_EDIT = ("def test_b():\n    assert 2 == 2\n", "def test_b():\n    assert 2 == 3\n")


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def pytest_run(cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTEST_ADDOPTS")}
    environ.update(env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "no:randomly", "tests"], cwd=cwd, env=environ,
                          capture_output=True, text=True)


def pytest_pyc(folder: Path, stem: str) -> Path:
    [pyc] = glob.glob(str(folder / f"{stem}.*-pytest-*.pyc"))
    return Path(pyc)


def test_matching_pycs_are_used_and_an_edited_source_is_recompiled(tmp_path):
    user = write(tmp_path / "user", {"tests/test_a.py": PASSING,
                                     "tests/test_b.py": SAME_SIZE_EDIT[0]})
    assert pytest_run(user).returncode == 0
    checkout = write(tmp_path / "checkout", {"tests/test_a.py": PASSING,
                                             "tests/test_b.py": SAME_SIZE_EDIT[1]})

    assert seed_bytecode(str(user), str(checkout)) == 2

    proc = pytest_run(checkout)
    assert proc.returncode == 1, proc.stdout
    assert "1 failed, 1 passed" in proc.stdout and "assert 2 == 3" in proc.stdout
    cache = checkout / "tests" / "__pycache__"
    # test_a ran from the copied pyc: it still names the user's file (pytest fixes the name
    # in memory only); test_b's was rejected by its source hash and written anew.
    assert str(user).encode() in pytest_pyc(cache, "test_a").read_bytes()
    assert str(user).encode() not in pytest_pyc(cache, "test_b").read_bytes()
    assert str(checkout).encode() in pytest_pyc(cache, "test_b").read_bytes()
    assert str(user) not in proc.stdout


def test_timestamp_pycs_and_existing_files_are_left_alone(tmp_path):
    user = write(tmp_path / "user", {"pkg/mod.py": "X = 1\n", "pkg/other.py": "Y = 2\n"})
    py_compile.compile(str(user / "pkg" / "mod.py"),
                       invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
    py_compile.compile(str(user / "pkg" / "other.py"),
                       invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH)
    checkout = write(tmp_path / "checkout", {"pkg/mod.py": "X = 1\n", "pkg/other.py": "Y = 2\n"})
    [other_pyc] = glob.glob(str(user / "pkg" / "__pycache__" / "other.*.pyc"))
    mine = checkout / "pkg" / "__pycache__" / os.path.basename(other_pyc)
    mine.parent.mkdir()
    mine.write_bytes(b"mine")

    assert seed_bytecode(str(user), str(checkout)) == 0
    assert os.listdir(mine.parent) == [mine.name] and mine.read_bytes() == b"mine"


def test_modules_only_in_the_users_tree_are_not_copied(tmp_path):
    user = write(tmp_path / "user", {"tests/test_a.py": PASSING, "tests/test_gone.py": PASSING})
    assert pytest_run(user).returncode == 0
    checkout = write(tmp_path / "checkout", {"tests/test_a.py": PASSING})

    assert seed_bytecode(str(user), str(checkout)) == 1
    names = os.listdir(checkout / "tests" / "__pycache__")
    assert len(names) == 1 and names[0].startswith("test_a.")


def test_a_pycache_prefix_is_followed_on_both_sides(tmp_path):
    prefix = tmp_path / "pycs"
    user = write(tmp_path / "user", {"tests/test_a.py": PASSING})
    assert pytest_run(user, PYTHONPYCACHEPREFIX=str(prefix)).returncode == 0
    checkout = write(tmp_path / "checkout", {"tests/test_a.py": PASSING})

    assert seed_bytecode(str(user), str(checkout), str(prefix), str(prefix)) == 1
    assert not (checkout / "tests" / "__pycache__").exists()
    seeded = pytest_pyc(prefix / str(checkout / "tests").lstrip(os.sep), "test_a")
    assert str(user).encode() in seeded.read_bytes()
    assert pytest_run(checkout, PYTHONPYCACHEPREFIX=str(prefix)).returncode == 0
    assert str(user).encode() in seeded.read_bytes()       # used as it was, not recompiled
