"""Where the recorded source comes from (commit, recorded tree, dirty diff, a fresh clone, a
directory written outside git) and every bad input: one line, exit 1, nothing written."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.fixtures import git, user_state
from tests.replay_support import (
    cli,
    forge_run,
    last_report,
    leftovers,
    project,
    record,
    replay,
    run_json,
    temp_entries,
    tip,
    verdicts,
)

SIMPLE = '''\
import random

SCALE = 1.0


def test_one(testlog):
    testlog.output("x", SCALE * random.random())


def test_two(testlog):
    testlog.output("y", [random.random() for _ in range(3)])


def test_three():
    assert SCALE > 0
'''


@pytest.fixture
def tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Temp files (the replay's checkout) under this test's directory, to see they go away."""
    path = tmp_path / "tmp"
    path.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(path))
    return path


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return project(tmp_path / "repo", {"tests/test_simple.py": SIMPLE})


def set_scale(repo: Path, scale: float) -> None:
    path = repo / "tests" / "test_simple.py"
    path.write_text(path.read_text().replace("SCALE = 1.0", f"SCALE = {scale}"))


def assert_verified(repo: Path, code: int, out: str, err: str, tests: int = 3) -> dict:
    assert (code, err) == (0, ""), out + err
    report = last_report(repo)
    assert set(verdicts(report).values()) == {"verified"} and len(report["tests"]) == tests
    return report


def assert_refused(code: int, out: str, err: str, *needles: str, status: int = 2) -> None:
    """One error line, nothing on stdout; exit 2 for input of the user's own (an unknown or
    wrong revision, a missing directory), 1 for what the repository or the run lacks."""
    assert code == status and out == "", (code, out)
    assert err.count("\n") == 1 and err.startswith("git-testlog: error: "), err
    for needle in needles:
        assert needle in err, err


def test_dirty_tree_run_replays_with_its_diff_and_stays_dirty(repo, tmp):
    set_scale(repo, 2.0)                  # uncommitted: without the recorded diff test_one differs
    (repo / "untracked.txt").write_text("mine\n")
    git(repo, "add", "-N", "untracked.txt")
    sha = record(repo, "tests")
    before = user_state(repo)
    report = assert_verified(repo, *replay(repo, sha))
    assert report["run"]["dirty"] is True
    assert "recorded dirty diff applied" in git(repo, "show", "testlog:" + report["event"]["artifact"][:-4] + "md")
    assert user_state(repo) == before and leftovers(tmp) == []
    assert "SCALE = 2.0" in (repo / "tests" / "test_simple.py").read_text()


def test_replay_after_the_source_branch_moved_on(repo, tmp):
    sha = record(repo, "tests")
    set_scale(repo, 5.0)
    git(repo, "commit", "-qam", "moved on")
    before = user_state(repo)
    report = assert_verified(repo, *replay(repo, sha))
    assert report["replay"]["materialized"] == "commit" and user_state(repo) == before


def test_replay_after_the_recorded_commit_was_squashed_away(repo, tmp):
    root = git(repo, "rev-parse", "HEAD").strip()
    set_scale(repo, 3.0)
    git(repo, "commit", "-qam", "scale 3")
    recorded_commit = git(repo, "rev-parse", "HEAD").strip()
    sha = record(repo, "tests")
    git(repo, "reset", "-q", "--soft", root)
    git(repo, "commit", "-q", "--amend", "-m", "squashed")
    git(repo, "reflog", "expire", "--expire=now", "--all")
    git(repo, "gc", "-q", "--prune=now")
    assert git(repo, "cat-file", "-e", recorded_commit, check=False) == "" and \
        subprocess.run(["git", "cat-file", "-e", recorded_commit], cwd=repo).returncode != 0
    before = user_state(repo)
    report = assert_verified(repo, *replay(repo, sha))
    assert report["replay"]["materialized"] == "tree" and user_state(repo) == before
    assert "the commit is gone" in git(repo, "show", "testlog:" + report["event"]["artifact"][:-4] + "md")


def test_replay_of_a_run_recorded_under_xdist(repo, tmp):
    sha = record(repo, "-n", "2", "tests")
    run = run_json(repo, sha)
    assert run["run"]["xdist_workers"] == 2 and {r["worker"] for r in run["records"]} <= {"gw0", "gw1"}
    before = user_state(repo)
    assert_verified(repo, *replay(repo, sha))
    assert user_state(repo) == before


@pytest.fixture
def origin(tmp_path: Path, repo: Path) -> Path:
    remote = tmp_path / "origin.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    git(repo, "push", "-q", "origin", "main")
    return remote


def test_fresh_clone_needs_fetch_then_replays(repo, origin, tmp_path, tmp):
    sha = record(repo, "tests")
    assert cli("-C", str(repo), "push", "--branch", "testlog")[0] == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    before = user_state(clone)
    assert_refused(*replay(clone, sha), "no log branch", "git testlog fetch")
    assert tip(clone) == "" and temp_entries(tmp) == []
    assert cli("-C", str(clone), "fetch")[0] == 0
    assert_verified(clone, *replay(clone, sha))
    assert user_state(clone) == before


def test_shallow_clone_says_how_to_fetch_the_source(repo, origin, tmp_path, tmp):
    sha = record(repo, "tests")
    set_scale(repo, 4.0)
    git(repo, "commit", "-qam", "moved on")
    git(repo, "push", "-q", "origin", "main")
    assert cli("-C", str(repo), "push")[0] == 0
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{origin}", str(shallow))
    assert cli("-C", str(shallow), "fetch")[0] == 0
    tip_before = tip(shallow)
    assert_refused(*replay(shallow, sha), "not in this clone", "a shallow clone",
                   "git fetch --unshallow", status=1)
    assert tip(shallow) == tip_before and temp_entries(tmp) == []


def test_clone_without_the_source_commit_names_it(repo, origin, tmp_path, tmp):
    set_scale(repo, 6.0)
    git(repo, "commit", "-qam", "local only")             # never pushed
    local = git(repo, "rev-parse", "HEAD").strip()
    sha = record(repo, "tests")
    assert cli("-C", str(repo), "push")[0] == 0
    clone = tmp_path / "clone"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    assert cli("-C", str(clone), "fetch")[0] == 0
    assert_refused(*replay(clone, sha), f"`git fetch origin {local}`", status=1)
    assert temp_entries(tmp) == []


@pytest.mark.parametrize("rev,needle", [
    ("0123456789abcdef", "unknown revision"),
    ("HEAD", "is not a commit on the log branch"),
    ("REPLAY", "is not a test run (it records REPLAY_VERIFIED)"),
])
def test_bad_revisions_are_refused_and_nothing_is_written(repo, tmp, rev, needle):
    sha = record(repo, "tests")
    if rev == "REPLAY":
        assert replay(repo, sha, "-k", "test_three")[0] == 0
        rev = tip(repo)
    before, tip_before, temps = user_state(repo), tip(repo), temp_entries(tmp)
    assert_refused(*replay(repo, rev), needle)
    assert user_state(repo) == before and tip(repo) == tip_before and temp_entries(tmp) == temps


def test_other_bad_input_is_refused(repo, tmp, tmp_path):
    assert_refused(*replay(repo, "testlog"), "no log branch refs/heads/testlog", "git testlog fetch")
    sha = record(repo, "tests")
    tip_before = tip(repo)
    assert_refused(*cli("-C", str(repo), "replay", "--python", str(tmp_path / "nope"), sha),
                   "no such executable")
    assert_refused(*replay(repo), "which run?")
    assert tip(repo) == tip_before and temp_entries(tmp) == []
    assert_refused(*replay(repo, sha, "-k", "no_such_test"), "no recorded test was replayed",
                   status=1)
    assert tip(repo) == tip_before and leftovers(tmp) == []
    outside = tmp_path / "outside"
    outside.mkdir()
    assert_refused(*replay(outside, sha), "not a git repository", "--from-dir")


def test_run_recorded_outside_git_replays_from_its_directory(tmp_path, tmp):
    plain = tmp_path / "plain"
    (plain / "tests").mkdir(parents=True)
    (plain / "tests" / "test_simple.py").write_text(SIMPLE)
    record(plain, "--testlog-out=logs", "tests")
    assert (plain / "logs" / "runs").is_dir()
    assert_refused(*replay(plain, "HEAD"), "--from-dir")
    code, out, err = replay(plain, "--from-dir", str(plain / "logs"))
    assert (code, err) == (0, ""), out + err
    reports = list((plain / "logs" / "replays").glob("*__replay.json"))
    assert len(reports) == 1 and "VERIFIED" in reports[0].read_text()
    assert "a copy of the project" in reports[0].with_suffix(".md").read_text()
    assert not (plain / ".git").exists() and leftovers(tmp) == []
    assert_refused(*replay(plain, "--from-dir", str(plain / "nope")), "no such directory")


def test_hand_edited_record_is_refused_and_a_foreign_seed_is_seed_corruption(repo, tmp):
    from testlog.core.canonical import record_signature as signature_of
    sha = record(repo, "tests")

    def edit(data):
        data["records"][0]["seed"] += 1

    def edit_and_resign(data):
        edit(data)
        data["records"][0]["signature"] = signature_of(data["records"][0])
    tip_before = tip(repo)
    edited = forge_run(repo, sha, edit)
    assert_refused(*replay(repo, edited), "does not match its digest", status=1)
    assert tip(repo) == edited != tip_before
    forged = forge_run(repo, sha, edit_and_resign)
    code, out, err = replay(repo, forged)
    assert code == 1, out + err
    report = last_report(repo)
    first = sorted(verdicts(report))[0]
    assert verdicts(report)[first] == "critical" and sum(
        v == "verified" for v in verdicts(report).values()) == 2
    flagged = [t for t in report["tests"] if t["verdict"] == "critical"][0]
    assert flagged["seed_derivable"] is False and "seed corruption" in flagged["reasons"][0]


def test_replay_runs_in_the_recorded_rootdir_when_the_layout_is_ambiguous(tmp_path, tmp):
    """Both the top and `sub/` hold tests/test_where.py: a run recorded in `sub/` (its own
    pytest.ini makes it the rootdir) must replay there, not in the top directory."""
    where = "def test_where(testlog):\n    testlog.output('where', {label!r})\n"
    repo = project(tmp_path / "repo", {"tests/test_where.py": where.format(label="top"),
                                       "sub/pytest.ini": "[pytest]\n",
                                       "sub/tests/test_where.py": where.format(label="sub")})
    sha = record(repo / "sub")
    assert run_json(repo, sha)["run"]["rootdir"] == "sub"
    assert run_json(repo, record(repo))["run"]["rootdir"] == "."
    code, out, err = replay(repo, sha)
    assert_verified(repo, code, out, err, tests=1)
