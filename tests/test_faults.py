"""Faults lose nothing and say so: a full disk or a read-only .git sends the run to a fallback
directory on another filesystem (pytest says where), and when even that fails pytest's status
is a failing one; partial pending entries are completed or cleaned and listed; prune checks
its arguments before writing; branch names git refuses are refused."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from testlog.core.runfiles import RunBundle
from testlog.store import pending
from tests.attack_helpers import one_line, refs_of
from tests.audit_helpers import record_run
from tests.fixtures import git, make_repo
from tests.recorder_helpers import pytest_env, run_pytest
from tests.replay_support import cli
from tests.store_helpers import open_store

PASSING = {"test_ok.py": "def test_ok():\n    assert True\n"}


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 2 MiB tmpfs of its own (we run as root in CI containers); skipped where mounting is
    not possible."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip() or proc.returncode}): "
                    "the full-disk tests need root or CAP_SYS_ADMIN")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def project_on(disk: Path) -> Path:
    repo = make_repo(disk / "proj", PASSING)
    key = repo / ".git" / "testlog" / "env-key"       # made before the disk fills (pytest
    key.parent.mkdir(parents=True)                      # would create it as it starts)
    key.write_text("00" * 32 + "\n")
    return repo


def fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as handle:
        try:
            while True:
                handle.write(b"\0" * 65536)
                handle.flush()
        except OSError:
            pass


def record(repo: Path, sandbox: dict[str, str], temp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = pytest_env(sandbox, TMPDIR=str(temp))
    return run_pytest(repo, env, "--testlog", "--testlog-no-sign", *args)


def fallback_entries(temp: Path) -> list[Path]:
    root = temp / f"testlog-runs-{os.getuid()}"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def assert_saved_to_fallback(run: subprocess.CompletedProcess[str], repo: Path, temp: Path,
                             reason: str) -> Path:
    assert run.returncode == 0, run.stdout + run.stderr          # the tests' own status
    assert "could not commit the run to refs/heads/testlog" in run.stdout, run.stdout
    assert f"nor save it to pending ({reason}" in run.stdout, run.stdout
    [entry] = fallback_entries(temp)
    assert f"saved to {entry} instead" in run.stdout
    meta = json.loads((entry / "meta.json").read_text())
    assert meta["summary"].startswith("TEST_SUITE_EXECUTED proj PASS 1 passed")
    assert sorted(meta["sha256"]) == sorted(
        str(p.relative_to(entry / "files")) for p in (entry / "files").rglob("*") if p.is_file())
    pending_dir = repo / ".git" / "testlog" / "pending"
    assert not pending_dir.exists() or list(pending_dir.iterdir()) == []   # nothing half-written
    assert git(repo, "rev-parse", "--verify", "-q", "testlog", check=False) == ""
    return entry


def test_a_full_disk_sends_the_run_to_the_fallback_directory(small_disk: Path, tmp_path: Path,
                                                             sandbox: dict[str, str]):
    repo = project_on(small_disk)
    temp = tmp_path / "tmp"
    temp.mkdir()
    fill(small_disk)
    run = record(repo, sandbox, temp)
    entry = assert_saved_to_fallback(run, repo, temp, "No space left on device")
    # once there is room again, the entry is committed like any pending run
    (small_disk / "filler").unlink()
    shutil.move(str(entry), str(repo / ".git" / "testlog" / "pending" / entry.name))
    code, out, _ = cli("-C", str(repo), "commit-pending")
    assert code == 0 and "committed" in out
    assert "TEST_SUITE_EXECUTED proj PASS" in git(repo, "log", "-1", "--format=%s", "testlog")


def test_a_read_only_git_dir_sends_the_run_to_the_fallback_directory(
        small_disk: Path, tmp_path: Path, sandbox: dict[str, str]):
    repo = project_on(small_disk)
    temp = tmp_path / "tmp"
    temp.mkdir()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    run = record(repo, sandbox, temp)
    assert_saved_to_fallback(run, repo, temp, "Read-only file system")


def test_when_even_the_fallback_fails_pytest_fails(small_disk: Path, tmp_path: Path,
                                                  sandbox: dict[str, str]):
    repo = project_on(small_disk)
    temp = tmp_path / "tmp"
    temp.mkdir()
    (temp / f"testlog-runs-{os.getuid()}").write_text("a file where the fallback folder goes")
    fill(small_disk)
    run = record(repo, sandbox, temp)
    assert run.returncode == 3, run.stdout + run.stderr        # the tests passed
    assert "testlog: this run is lost: could not commit it (" in run.stdout
    assert "save it to pending (No space left on device" in run.stdout


# -- pending entries ------------------------------------------------------------------------------

BUNDLE = RunBundle(files={"runs/20260101__unit__run.json": b'{"records":[]}',
                          "runs/20260101__unit__run.log": b"log\n", "runs/gone.patch": None},
                   artifact="runs/20260101__unit__run.json", verdict="PASS",
                   summary="TEST_SUITE_EXECUTED unit PASS 0 passed 0 failed",
                   trailers={"Testlog-Suite": "unit"}, timing_path="timing/x.json")
SETTINGS = {"branch": "refs/heads/testlog", "sign_key": None, "no_sign": True}


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def as_partial(entry: str, pid: int) -> Path:
    """The entry as a writer with `pid` leaves it when killed before renaming it."""
    name = os.path.basename(entry)
    parts = name.split("-")
    parts[-2] = str(pid)
    partial = Path(entry).parent / (pending.PARTIAL + "-".join(parts))
    os.rename(entry, partial)
    return partial


def test_a_failed_save_leaves_nothing(repo: Path):
    common = str(repo / ".git")
    bad = RunBundle(**{**BUNDLE.__dict__, "files": {**BUNDLE.files, "runs/" + "x" * 300: b"1"}})
    with pytest.raises(OSError):
        pending.save(common, bad, SETTINGS, "gpg failed")
    assert os.listdir(pending.pending_root(common)) == []


def test_partial_entries_are_listed_completed_or_removed(repo: Path):
    common = str(repo / ".git")
    whole = as_partial(pending.save(common, BUNDLE, SETTINGS, "x"), dead_pid())
    broken = as_partial(pending.save(common, BUNDLE, SETTINGS, "x"), dead_pid())
    (broken / "files" / "runs" / "20260101__unit__run.log").unlink()
    busy = as_partial(pending.save(common, BUNDLE, SETTINGS, "x"), os.getpid())

    code, out, _ = cli("-C", str(repo), "commit-pending", "--list")
    assert code == 0
    assert f"{whole.name}  partial but whole: commit-pending completes it" in out
    assert f"{broken.name}  partial: 1 of 2 files, its writer stopped while saving it" in out
    assert f"{busy.name}  partial: being saved by process {os.getpid()}" in out
    assert sorted(p.name for p in whole.parent.iterdir()) == sorted([whole.name, broken.name,
                                                                     busy.name])

    code, out, _ = cli("-C", str(repo), "commit-pending")
    assert code == 0
    assert f"completed {whole.name[len(pending.PARTIAL):]}" in out
    assert f"removed {broken.name}: its writer stopped while saving it (1 files" in out
    assert "committed" in out and "TEST_SUITE_EXECUTED unit PASS" in out
    assert [p.name for p in whole.parent.iterdir()] == [busy.name]
    assert git(repo, "show", "testlog:runs/20260101__unit__run.log") == "log\n"


# -- prune and branch names -----------------------------------------------------------------------

def test_prune_checks_the_archive_directory_before_writing(repo: Path, gpg_key: str,
                                                           tmp_path: Path):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, date(2025, 1, 1))
        record_run(store, date(2025, 6, 1))
    (tmp_path / "a-file").write_text("not a folder")
    before = refs_of(repo)
    code, out, err = cli("-C", str(repo), "prune", "--as-of", "2030-01-01", "--sign-key", gpg_key,
                         "--archive-dir", str(tmp_path / "a-file" / "archive"))
    assert code == 2 and out == ""              # the user's own setting: an input error
    assert "is not a directory" in one_line(err)
    assert refs_of(repo) == before


@pytest.mark.parametrize("branch", ["HEAD", "refs/heads/HEAD", "-x"])
def test_a_branch_name_git_refuses_is_refused_before_any_test(tmp_path: Path, sandbox, branch):
    repo = make_repo(tmp_path / "proj", PASSING)
    before = refs_of(repo)
    run = run_pytest(repo, pytest_env(sandbox), "--testlog", "--testlog-no-sign",
                     f"--testlog-branch={branch}")
    assert run.returncode == 4 and f"invalid log branch name {branch!r}" in run.stderr
    assert refs_of(repo) == before
    assert git(repo, "symbolic-ref", "HEAD").strip() == "refs/heads/main"
    code, _out, err = cli("-C", str(repo), "log", f"--branch={branch}")
    assert code == 2 and "invalid log branch name" in one_line(err)   # input: exit 2
