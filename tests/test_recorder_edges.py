"""The recorder's other paths: a failing commit kept in pending and recovered, bad setups refused
before any test runs, --testlog-out, the ini switch, dirty trees, secrets, pytest-randomly."""
from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import random
import subprocess
from pathlib import Path

import pytest

from testlog.cli import main
from testlog.core.seeds import derive_seed
from testlog.rng import python_random
from tests.fixtures import gen_key, git, make_repo, user_state
from tests.recorder_helpers import (
    branch_files,
    event_at,
    find,
    git_bytes,
    pytest_env,
    records_by_name,
    run_data,
    run_pytest,
    show,
)
from tests.store_helpers import open_store

TRIVIAL = {"test_trivial.py": '''\
import random


def test_one(testlog):
    testlog.output("r", random.random())


def test_two():
    assert random.random() < 1.0
'''}
FAILING = {"test_failing.py": "def test_ok():\n    pass\n\n\ndef test_bad():\n    assert 1 == 2\n"}


@pytest.fixture
def env(sandbox: dict[str, str]) -> dict[str, str]:
    return pytest_env(sandbox)


def cli(repo: Path, *args: str) -> tuple[int, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(["-C", str(repo), *args])
    return code, out.getvalue()


def has_branch(repo: Path) -> bool:
    return git(repo, "rev-parse", "--verify", "-q", "refs/heads/testlog", check=False) != ""


def pending_entries(repo: Path) -> list[Path]:
    root = repo / ".git" / "testlog" / "pending"
    return sorted(root.iterdir()) if root.exists() else []


# -- a commit that fails --------------------------------------------------------------------

def test_failing_gpg_keeps_the_run_in_pending_and_commit_pending_recovers_it(
        tmp_path: Path, env: dict[str, str], gpg_key: str):
    repo = make_repo(tmp_path / "proj", FAILING)
    broken_gpg = tmp_path / "broken-gpg"
    broken_gpg.write_text("#!/bin/sh\nexit 1\n")
    broken_gpg.chmod(0o755)
    git(repo, "config", "gpg.program", str(broken_gpg))
    git(repo, "config", "user.signingkey", gpg_key)
    before = user_state(repo)
    run = run_pytest(repo, env, "--testlog", "--testlog-seed=5")
    assert run.returncode == 1                        # the tests' status, not the commit's
    assert "testlog: could not commit the run to refs/heads/testlog" in run.stdout
    assert "run `git testlog commit-pending` to commit it" in run.stdout
    assert not has_branch(repo) and user_state(repo) == before
    [entry] = pending_entries(repo)
    saved_run = next((entry / "files" / "runs").glob("*__run.jsonl")).read_bytes()
    code, listing = cli(repo, "commit-pending", "--list")
    assert code == 0 and "TEST_SUITE_EXECUTED proj FAIL 1 passed 1 failed" in listing

    git(repo, "config", "--unset", "gpg.program")
    code, out = cli(repo, "commit-pending")
    assert code == 0 and out.startswith(f"committed {entry.name} as ")
    git(repo, "verify-commit", "testlog")
    assert pending_entries(repo) == []
    assert git_bytes(repo, "show", f"testlog:{find(repo, '__run.jsonl')}") == saved_run
    assert event_at(repo)["event"] == "TEST_SUITE_EXECUTED"
    assert git(repo, "rev-list", "--count", "testlog").strip() == "1"
    assert cli(repo, "commit-pending") == (0, "no pending runs\n")


def test_a_key_that_needs_a_passphrase_leaves_the_run_pending(
        tmp_path: Path, env: dict[str, str], sandbox: dict[str, str], gpg_key: str):
    locked = gen_key(sandbox["GNUPGHOME"], name="Locked Key", email="locked@example.com",
                     passphrase="secret passphrase")
    repo = make_repo(tmp_path / "proj", TRIVIAL)
    run = run_pytest(repo, env, "--testlog", f"--testlog-sign-key={locked}")
    assert run.returncode == 0 and "could not commit the run" in run.stdout
    assert "passphrase" in run.stdout and not has_branch(repo)
    code, out = cli(repo, "commit-pending", "--sign-key", gpg_key)
    assert code == 0, out
    assert git(repo, "log", "-1", "--format=%G? %GF", "testlog").strip() == f"G {gpg_key}"


def test_commit_pending_keeps_what_it_could_not_commit(tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", TRIVIAL)
    run_pytest(repo, env, "--testlog", "--testlog-sign-key=NO-SUCH-KEY")
    assert len(pending_entries(repo)) == 1
    code, out = cli(repo, "commit-pending")
    assert code == 1 and "no secret key 'NO-SUCH-KEY'" in out and "1 run(s) still pending" in out
    assert len(pending_entries(repo)) == 1 and not has_branch(repo)


# -- refused before any test runs -------------------------------------------------------------

MARKER_TEST = {"test_marker.py": '''\
from pathlib import Path


def test_marks():
    Path("ran.marker").write_text("ran")
'''}


def test_outside_a_git_repository_without_out_dir_is_an_error_before_any_test(
        tmp_path: Path, env: dict[str, str]):
    project = tmp_path / "plain"
    project.mkdir()
    (project / "test_marker.py").write_text(MARKER_TEST["test_marker.py"])
    run = run_pytest(project, env, "--testlog")
    assert run.returncode == 4
    assert "is not inside a git repository" in run.stderr and "--testlog-out=DIR" in run.stderr
    assert not (project / "ran.marker").exists()


@pytest.mark.parametrize("option, message", [
    ("--testlog-suite=a__b", "invalid suite name 'a__b'"),
    ("--testlog-branch=bad..name", "invalid log branch name 'bad..name'"),
    ("--testlog-seed=-3", "invalid seed '-3'"),
])
def test_bad_options_are_refused_before_any_test(tmp_path: Path, env: dict[str, str],
                                                  option: str, message: str):
    repo = make_repo(tmp_path / "proj", MARKER_TEST)
    run = run_pytest(repo, env, "--testlog", option)
    assert run.returncode == 4 and message in run.stderr
    assert not (repo / "ran.marker").exists() and not has_branch(repo)


# -- on and off --------------------------------------------------------------------------------

OFF_PROBE = {"test_probe.py": '''\
import sys


def test_recorder_not_loaded(testlog, testlog_rng):
    assert "testlog.plugin.recorder" not in sys.modules and "dulwich" not in sys.modules
    assert not testlog.recording and len(testlog.output("x", 1.5)) == 64
    assert 0.0 <= testlog_rng.random() < 1.0
'''}


def test_without_testlog_the_plugin_does_nothing_but_its_fixtures_work(
        tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", OFF_PROBE)
    run = run_pytest(repo, env)
    assert run.returncode == 0, run.stdout
    assert not has_branch(repo) and not (repo / ".git" / "testlog").exists()


def test_ini_option_turns_recording_on(tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", {**TRIVIAL, "pytest.ini": "[pytest]\ntestlog = true\n"})
    run = run_pytest(repo, env, "--testlog-suite=ini", "--testlog-no-sign")
    assert run.returncode == 0 and has_branch(repo)
    assert git(repo, "log", "-1", "--format=%s", "testlog").strip() == \
        "TEST_SUITE_EXECUTED ini PASS 2 passed 0 failed"


@pytest.mark.parametrize("also", [[], ["--testlog"], ["--testlog-out=out"]])
def test_no_testlog_turns_recording_off_for_one_run(tmp_path: Path, env: dict[str, str],
                                                    also: list[str]):
    repo = make_repo(tmp_path / "proj", {**TRIVIAL, "pytest.ini": "[pytest]\ntestlog = true\n"})
    before = user_state(repo)
    run = run_pytest(repo, {**env, "PYTEST_ADDOPTS": " ".join(also)}, "--no-testlog")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "testlog:" not in run.stdout
    assert not has_branch(repo) and not (repo / ".git" / "testlog").exists()
    assert not (repo / "out").exists()
    assert user_state(repo) == before


# -- --testlog-out ------------------------------------------------------------------------------

COVERED = {
    "pkg/__init__.py": "",
    "pkg/calc.py": "def add(a, b):\n    return a + b\n\n\ndef unused():\n    return 0\n",
    "test_calc.py": "from pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "test_broken.py": "import no_such_module_here\n",
}


def test_out_dir_outside_git_writes_the_files_with_coverage_and_collection_errors(
        tmp_path: Path, env: dict[str, str]):
    project = tmp_path / "plain"
    for name, text in COVERED.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(text)
    out = tmp_path / "logs"
    args = ("--testlog", f"--testlog-out={out}", "--testlog-suite=cov", "--cov=pkg",
            "--continue-on-collection-errors")
    for _ in range(2):
        run = run_pytest(project, env, *args)
        assert run.returncode == 1 and f"files written to {out}" in run.stdout
    data = json.loads(next((out / "runs").glob("*__cov__run.json")).read_text())
    assert data["run"]["source"]["commit"] is None
    assert data["run"]["environment"]["env_key"]["source"] == "ephemeral"
    assert [r["status"] for r in data["records"]] == ["PASS"]
    coverage = json.loads(next((out / "coverage").glob("*__cov__coverage.json")).read_text())
    assert coverage["percent_covered"] == pytest.approx(75.0)
    assert coverage["files"]["pkg/calc.py"] == {"statements": 4, "covered": 3, "percent": 75.0}
    summary = json.loads(next((out / "summaries").glob("*.json")).read_text())
    # A collection error makes an ERROR run (issue 15), not an ordinary FAIL.
    assert summary["coverage_percent"] == pytest.approx(75.0) and summary["verdict"] == "ERROR"
    assert summary["totals"]["collection_errors"] == 1
    errors = json.loads(next((out / "errors").glob("*.json")).read_text())["errors"]
    assert [(e["test_name"], e["when"], e["severity"]) for e in errors] == \
        [("test_broken.py", "collect", "critical")]
    timing = json.loads((out / "timing" / "timing_summary.json").read_text())
    assert timing["tests"]["test_calc.py::test_add"]["runs"] == 2
    assert not (project / ".git").exists()


# -- what the run says about the source ---------------------------------------------------------

def test_dirty_tree_stores_its_diff_and_a_clean_run_removes_it_from_the_tip(
        tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", {**TRIVIAL, "lib.py": "VALUE = 1\n"})
    (repo / "lib.py").write_text("VALUE = 2\n")
    (repo / "new_module.py").write_text("X = 1\n")
    git(repo, "add", "new_module.py")
    (repo / "notes.txt").write_text("untracked\n")
    before = user_state(repo)
    assert run_pytest(repo, env, "--testlog", "--testlog-no-sign").returncode == 0
    assert user_state(repo) == before
    run = run_data(repo)["run"]
    assert run["source"]["dirty"] is True and run["source"]["untracked"] == ["notes.txt"]
    patch_path = run["source"]["dirty_diff_path"]
    assert patch_path.startswith("runs/") and patch_path.endswith("__proj__dirty.patch")
    expected = subprocess.run(["git", "diff", "HEAD", "--binary"], cwd=repo, capture_output=True,
                              env={**os.environ, **env}).stdout
    assert git(repo, "cat-file", "blob", f"testlog:{patch_path}").encode() == expected

    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "clean again")
    assert run_pytest(repo, env, "--testlog", "--testlog-no-sign").returncode == 0
    assert patch_path not in branch_files(repo)
    assert patch_path in branch_files(repo, "testlog~1")
    assert run_data(repo)["run"]["source"]["dirty_diff_path"] is None


def test_no_reseed_stores_full_states_that_hash_to_the_recorded_digests(
        tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", TRIVIAL)
    assert run_pytest(repo, env, "--testlog", "--testlog-no-reseed", "--testlog-no-sign").returncode == 0
    determinism = json.loads(show(repo, find(repo, "__determinism.json")))
    assert determinism["reseed"] is False
    states = {d: base64.b64decode(s) for d, s in determinism["full_states"].items()}
    assert all(hashlib.sha256(raw).hexdigest() == d for d, raw in states.items())
    records = records_by_name(repo)
    for record in records.values():
        assert record["determinism_check"] == "state-stored"
        assert record["rng_state"]["python"] in states
    # without reseeding, the second test starts where the first one left Python's RNG
    assert records["test_trivial.py::test_two"]["rng_state"]["python"] == \
        records["test_trivial.py::test_one"]["rng_state_after"]["python"]


# -- secrets --------------------------------------------------------------------------------------

SECRET_TEST = {"test_secret.py": '''\
import os


def test_leaks_everywhere_it_can(testlog):
    token = os.environ["MY_API_TOKEN"]
    testlog.input(token, name="token")
    testlog.output("echo", {"token": token})
    print(token)
    assert token == "something else"
'''}


def test_no_environment_value_appears_in_any_object(tmp_path: Path, sandbox: dict[str, str]):
    secret = "tok-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
    repo = make_repo(tmp_path / "proj", SECRET_TEST)
    env = pytest_env(sandbox, MY_API_TOKEN=secret)
    run = run_pytest(repo, env, "--testlog", "--testlog-no-sign")
    assert run.returncode == 1 and "recorded as" in run.stdout
    record = records_by_name(repo)["test_secret.py::test_leaks_everywhere_it_can"]
    assert record["inputs"]["token"]["value"] == "${MY_API_TOKEN}"
    assert "MY_API_TOKEN" in run_data(repo)["run"]["environment"]["env"]
    assert "${MY_API_TOKEN}" in show(repo, find(repo, "__errors.log"))
    objects = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch"], cwd=repo,
                             capture_output=True, check=True).stdout
    key = (repo / ".git" / "testlog" / "env-key").read_text().strip()
    assert secret.encode() not in objects and key.encode() not in objects
    assert len(objects) > 10_000


# -- pytest-randomly ------------------------------------------------------------------------------

def _python_digest(seed: int) -> str:
    saved = python_random.capture()
    random.seed(seed)
    digest = python_random.digest(python_random.capture())
    python_random.restore(saved)
    return digest


def test_with_pytest_randomly_its_seed_is_used_and_tests_are_seeded_once(
        tmp_path: Path, env: dict[str, str]):
    files = {"test_many.py": "".join(
        f"import random\n\n\ndef test_{i}(testlog):\n    testlog.output('r', random.random())\n\n\n"
        for i in range(6))}
    repo = make_repo(tmp_path / "proj", files)
    base = ("-p", "no:cacheprovider", "-q")
    shuffled = run_pytest(repo, env, "-p", "randomly", "--randomly-seed=77", "--testlog",
                          "--testlog-no-sign", base=base)
    assert shuffled.returncode == 0, shuffled.stdout
    in_order = run_pytest(repo, env, "--testlog", "--testlog-seed=77", "--testlog-no-sign")
    assert in_order.returncode == 0
    run = run_data(repo, "testlog~1")["run"]
    assert run["randomly"] == {"active": True, "seed": 77} and run["base_seed"] == 77
    with_randomly, without = records_by_name(repo, "testlog~1"), records_by_name(repo)
    for name, record in with_randomly.items():
        assert record["seed"] == derive_seed(77, name)
        assert record["rng_state"]["python"] == _python_digest(record["seed"])
        assert record["outputs"] == without[name]["outputs"]


# -- show and log on commits that are not runs ------------------------------------------------------

def test_show_and_log_keep_their_output_for_other_commits(repo: Path):
    with open_store(repo, sign_key=False) as store:
        sha = store.write({"ledger/x.ndjson": b"{}\n"}, "something else", {"Testlog-Suite": "x"})
    code, text = cli(repo, "log")
    assert code == 0 and text.startswith(f"{sha[:10]}  ") and text.rstrip().endswith(
        "unsigned     something else")
    code, text = cli(repo, "log", "--json")
    assert "run" not in json.loads(text)
    assert cli(repo, "log", "--runs") == (0, "")
    code, text = cli(repo, "show")
    assert code == 0 and "# Test run" not in text and "A  ledger/x.ndjson" in text
    assert "run" not in json.loads(cli(repo, "show", "--json")[1])


def test_collect_only_records_nothing_and_an_unborn_head_is_recorded_as_none(
        tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", TRIVIAL, commit=False)
    listed = run_pytest(repo, env, "--testlog", "--collect-only")
    assert listed.returncode == 0 and not has_branch(repo)
    assert run_pytest(repo, env, "--testlog", "--testlog-no-sign").returncode == 0
    run = run_data(repo)["run"]
    assert run["source"]["commit"] is None and run["source"]["dirty"] is False
    assert run["source"]["untracked"] == ["test_trivial.py"]
    trailers = git(repo, "log", "-1", "--format=%B", "testlog")
    assert "Testlog-Source-Commit: none" in trailers and "Testlog-Source-Tree: none" in trailers


CRASHING = {"test_crash.py": '''\
import os
import random


def test_before(testlog):
    testlog.output("r", random.random())


def test_kills_its_worker():
    os._exit(3)
'''}


def test_a_crashed_xdist_worker_still_gives_a_record_for_every_test(
        tmp_path: Path, env: dict[str, str]):
    repo = make_repo(tmp_path / "proj", CRASHING)
    run = run_pytest(repo, env, "--testlog", "--testlog-no-sign", "--testlog-seed=9", "-n", "2")
    assert run.returncode == 1 and "recorded as" in run.stdout
    records = records_by_name(repo)
    crashed = records["test_crash.py::test_kills_its_worker"]
    assert crashed["status"] == "FAIL" and crashed["determinism_check"] == "not-captured"
    assert crashed["seed"] == derive_seed(9, "test_crash.py::test_kills_its_worker")
    assert records["test_crash.py::test_before"]["status"] == "PASS"
