"""Sharded runs (`pytest --testlog-shard K/N`): the rules (which shard a test is in, the run id,
the shards' totals and verdict, what refuses a shard) with literal tables, then real pytest
processes recording the shards of one run, into one repository and through a bare remote from
three clones with writer ids of their own, read back by `log`, `show`, `replay` and `seal` as
one run."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from testlog.core import shards
from testlog.core.shards import ShardSpec
from tests.fixtures import git, make_repo
from tests.recorder_helpers import pytest_env, run_pytest

CLI = [sys.executable, "-m", "testlog"]
# 12 tests over 4 files: each of 3 shards gets some (checked below: the rule is fixed).
SUITE = {f"tests/test_part{n}.py": "import random\n\n\n" + "".join(
    f"def test_draw_{n}_{i}():\n    assert random.random() < 2\n\n\n" for i in range(3))
    for n in range(4)}
NODEIDS = sorted(f"tests/test_part{n}.py::test_draw_{n}_{i}" for n in range(4) for i in range(3))


# -- the rules ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    ("0/3", "K must be 1 to 3"), ("4/3", "K must be 1 to 3"), ("a/b", "give K/N"),
    ("3", "give K/N"), ("1/0", "N must be 1 to"), ("-1/3", "give K/N"), ("", "give K/N")])
def test_a_bad_shard_spec_is_refused_in_one_line(text, words):
    with pytest.raises(ValueError, match=words) as caught:
        shards.parse_shard(text)
    assert "\n" not in str(caught.value)


def test_good_shard_specs():
    assert shards.parse_shard("2/3") == (2, 3)
    assert shards.parse_shard(" 1 / 1 ") == (1, 1)


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_cover_every_test_exactly_once(count):
    ids = [f"tests/test_{i % 17}.py::test_{i}[{i}]" for i in range(500)]
    taken = {k: [n for n in ids if shards.shard_of(n, count) == k] for k in range(1, count + 1)}
    assert sorted(n for part in taken.values() for n in part) == sorted(ids)
    assert all(taken.values())           # 500 tests: no shard is left empty


def test_the_suite_test_files_land_in_every_shard():
    """The fixed rule puts some of SUITE's 12 tests in each of 3 shards (the tests below
    rely on it)."""
    assert {shards.shard_of(n, 3) for n in NODEIDS} == {1, 2, 3}


@pytest.mark.parametrize("environ, expected", [
    ({"GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "2"},
     ("github-123-2", "GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT")),
    ({"GITHUB_RUN_ID": "123"}, ("github-123", "GITHUB_RUN_ID")),
    ({"CI_PIPELINE_ID": "987"}, ("gitlab-987", "CI_PIPELINE_ID")),
    ({"BUILDKITE_BUILD_ID": "0190-ab"}, ("buildkite-0190-ab", "BUILDKITE_BUILD_ID")),
    ({"CIRCLE_WORKFLOW_ID": "c0ffee"}, ("circleci-c0ffee", "CIRCLE_WORKFLOW_ID")),
    ({"GITHUB_RUN_ID": "1", "CI_PIPELINE_ID": "2"}, ("github-1", "GITHUB_RUN_ID")),
    ({"CI_PIPELINE_ID": "  "}, None),
    ({}, None)])
def test_the_run_id_comes_from_the_ci(environ, expected):
    assert shards.ci_run_id(environ) == expected


def test_the_run_id_option_wins_and_without_one_the_error_names_both():
    assert shards.resolve_run_id("mine", {"CI_PIPELINE_ID": "7"}) == ("mine", "--testlog-run-id")
    with pytest.raises(ValueError, match="pass --testlog-run-id ID .*GITHUB_RUN_ID"):
        shards.resolve_run_id(None, {})
    with pytest.raises(ValueError, match="invalid run id"):
        shards.resolve_run_id("a b", {})


def test_a_shard_is_refused_beside_its_own_number_or_another_count():
    recorded = [(ShardSpec(1, 3, "r"), "commit a"), (ShardSpec(2, 3, "other"), "commit b")]
    assert shards.commit_conflict(ShardSpec(2, 3, "r"), recorded) is None
    assert "shard 1/3 of run r is already recorded (commit a)" in \
        shards.commit_conflict(ShardSpec(1, 3, "r"), recorded)
    assert "recorded in 3 shards (commit a), this shard says 4" in \
        shards.commit_conflict(ShardSpec(4, 4, "r"), recorded)


def test_the_runs_totals_and_verdict_come_from_its_shards():
    # 3 shards of 10 tests (4, 3, 3), the user deselected 2 (-k): each shard counts those and
    # the tests left to the others as deselected.
    parts = [{"passed": 4, "deselected": 2 + 6, "selected": 4, "tests": 4},
             {"passed": 2, "failed": 1, "deselected": 2 + 7, "selected": 3, "tests": 3},
             {"passed": 3, "deselected": 2 + 7, "selected": 3, "tests": 3}]
    totals = shards.combined_totals(parts)
    assert (totals["passed"], totals["failed"], totals["deselected"], totals["tests"]) == (9, 1, 2, 10)
    assert shards.combined_verdict(["PASS", "FAIL", "PASS"], []) == "FAIL"
    assert shards.combined_verdict(["PASS", "ERROR", "FAIL"], []) == "ERROR"
    assert shards.combined_verdict(["PASS", "PASS"], [3]) == "INCOMPLETE"


def test_shards_that_cannot_be_one_run_are_named():
    run = {"suite": "tests~1of2", "base_seed": 1, "source": {"commit": "a" * 40}}
    assert shards.disagreements([(1, run), (2, {**run, "suite": "tests~2of2"})]) == []
    found = shards.disagreements([(1, run), (2, {**run, "suite": "tests~2of2", "base_seed": 2,
                                                 "source": {"commit": "b" * 40}})])
    assert [f.split(" (")[0] for f in found] == ["base seed", "source commit"]


# -- real pytest processes -------------------------------------------------------------------------

def record(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return run_pytest(repo, env, "--testlog", *args, "tests")


def start_shards(repo: Path, env: dict[str, str], shards_: list[str],
                 *args: str) -> list[subprocess.CompletedProcess[str]]:
    """The shards recorded by one pytest process each, all started at once."""
    procs = [subprocess.Popen([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p",
                               "no:cacheprovider", "-q", "--testlog", f"--testlog-shard={s}",
                               *args, "tests"], cwd=repo, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for s in shards_]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        done.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return done


def cli(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + list(args), cwd=repo, env=env, capture_output=True, text=True,
                          timeout=300)


def branch_tip(repo: Path, ref: str = "refs/heads/testlog") -> str | None:
    found = git(repo, "for-each-ref", "--format=%(objectname)", ref).strip()
    return found or None


@pytest.fixture
def shard_repo(tmp_path: Path, sandbox) -> tuple[Path, dict[str, str]]:
    return make_repo(tmp_path / "proj", SUITE), pytest_env(sandbox)


@pytest.mark.parametrize("spec", ["0/3", "4/3", "a/b"])
def test_a_bad_spec_stops_pytest_before_any_test(shard_repo, spec):
    repo, env = shard_repo
    done = record(repo, env, f"--testlog-shard={spec}", "--testlog-run-id=r1")
    assert done.returncode == 4, done.stdout + done.stderr
    errors = [line for line in done.stderr.splitlines() if "error:" in line]
    assert len(errors) == 1 and "--testlog-shard" in errors[0] and spec in errors[0], done.stderr
    assert "passed" not in done.stdout and branch_tip(repo) is None


def test_a_shard_without_a_run_id_stops_before_any_test(shard_repo):
    repo, env = shard_repo
    done = record(repo, env, "--testlog-shard=1/3")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "testlog: --testlog-shard needs a run id shared by every shard: pass " \
        "--testlog-run-id ID" in done.stderr
    assert "passed" not in done.stdout and branch_tip(repo) is None


def test_three_shards_recorded_at_once_are_shown_and_replayed_as_one_run(shard_repo):
    repo, env = shard_repo
    done = start_shards(repo, env, ["1/3", "2/3", "3/3"], "--testlog-run-id=nightly-7")
    assert all(p.returncode == 0 for p in done), [p.stdout + p.stderr for p in done]
    # One commit per shard, named apart, with the trailers naming the run and the shard.
    trailers = git(repo, "log", "--format=%(trailers:key=Testlog-Run-Id,valueonly)%x00"
                   "%(trailers:key=Testlog-Shard,valueonly)%x00%(trailers:key=Testlog-Suite,"
                   "valueonly)", "testlog").split("\n\n")
    rows = sorted(tuple(part.strip() for part in t.split("\x00")) for t in trailers if t.strip())
    assert rows == [("nightly-7", f"{k}/3", f"tests~{k}of3") for k in (1, 2, 3)]
    listed = cli(repo, env, "log", "--runs")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1, listed.stdout
    assert "run  tests  PASS  12 passed  0 failed" in listed.stdout
    assert listed.stdout.rstrip().endswith("3/3 shards of run nightly-7")
    # show: the run id and any shard's sha give the whole run, every test once.
    first_shard = git(repo, "log", "--format=%H", "-1", "--grep=Testlog-Shard: 1/3",
                      "testlog").strip()
    for rev in ("nightly-7", first_shard):
        shown = cli(repo, env, "show", rev, "--json")
        assert shown.returncode == 0, shown.stderr
        data = json.loads(shown.stdout)
        assert data["run"]["shards"]["present"] == [1, 2, 3] and not data["run"]["shards"]["missing"]
        assert sorted(data["run"]["nodeids"]) == NODEIDS
        assert data["run"]["verdict"] == "PASS" and data["run"]["totals"]["passed"] == 12
    text = cli(repo, env, "show", "nightly-7").stdout
    assert text.startswith("sharded run nightly-7: 3/3 shards, PASS (12 passed)")
    records = cli(repo, env, "show", first_shard, "--records").stdout.splitlines()
    assert sorted(json.loads(r)["test_name"] for r in records) == NODEIDS
    own = cli(repo, env, "show", first_shard, "--commit", "--records").stdout.splitlines()
    assert 0 < len(own) < 12
    # replay: every shard's tests in one plan, on this machine.
    replayed = cli(repo, env, "replay", first_shard)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replay of run nightly-7 (3/3 shards)" in replayed.stdout
    assert "12 of 12 tests verified" in replayed.stdout


def test_a_missing_shard_is_named_and_a_duplicate_is_refused(shard_repo):
    repo, env = shard_repo
    for spec in ("1/3", "2/3"):
        done = record(repo, env, f"--testlog-shard={spec}", "--testlog-run-id=r9")
        assert done.returncode == 0, done.stdout + done.stderr
    listed = cli(repo, env, "log", "--runs").stdout
    assert "INCOMPLETE" in listed and "2/3 shards of run r9 (missing 3/3)" in listed
    shown = cli(repo, env, "show", "r9").stdout
    assert "missing: run r9: 2 of 3 shards; missing 3/3" in shown
    replayed = cli(repo, env, "replay", "r9")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "missing 3/3" in replayed.stdout
    tip = branch_tip(repo)
    again = record(repo, env, "--testlog-shard=2/3", "--testlog-run-id=r9")
    assert again.returncode == 4, again.stdout + again.stderr
    refused = [line for line in again.stdout.splitlines() if line.startswith("testlog:")]
    second = git(repo, "log", "--format=%H", "--grep=Testlog-Shard: 2/3", "testlog").strip()
    assert refused == ["testlog: refused to commit the run: shard 2/3 of run r9 is already "
                       f"recorded (commit {second[:10]} on "
                       "refs/heads/testlog): give this run its own --testlog-run-id"], again.stdout
    other_count = record(repo, env, "--testlog-shard=3/4", "--testlog-run-id=r9")
    assert other_count.returncode == 4 and "recorded in 3 shards" in other_count.stdout
    assert branch_tip(repo) == tip
    pending = cli(repo, env, "commit-pending", "--list")
    assert pending.stdout.strip() == "no pending runs"


def test_the_same_shard_signed_by_two_processes_at_once_is_committed_once(shard_repo, gpg_key):
    """Both build and sign on the same tip; only one may land (the check runs again on the
    commit each is rebuilt on)."""
    repo, env = shard_repo
    git(repo, "config", "user.signingkey", gpg_key)
    done = start_shards(repo, env, ["2/3", "2/3", "2/3"], "--testlog-run-id=race")
    codes = sorted(p.returncode for p in done)
    assert codes == [0, 4, 4], [p.stdout + p.stderr for p in done]
    commits = git(repo, "log", "--format=%H", "--grep=Testlog-Shard: 2/3", "testlog").split()
    assert len(commits) == 1


def test_an_empty_shard_is_recorded_and_passes(tmp_path, sandbox):
    repo = make_repo(tmp_path / "one", {"tests/test_one.py": "def test_only():\n    pass\n"})
    env = pytest_env(sandbox)
    mine = shards.shard_of("tests/test_one.py::test_only", 3)
    results = {k: record(repo, env, f"--testlog-shard={k}/3", "--testlog-run-id=tiny")
               for k in (1, 2, 3)}
    assert all(p.returncode == 0 for p in results.values()), \
        {k: p.stdout + p.stderr for k, p in results.items()}
    for k, proc in results.items():
        assert ("0 passed" in proc.stdout) == (k != mine), proc.stdout
    shown = json.loads(cli(repo, env, "show", "tiny", "--json").stdout)
    assert shown["run"]["shards"]["present"] == [1, 2, 3]
    assert shown["run"]["nodeids"] == ["tests/test_one.py::test_only"]


def test_the_ci_pipeline_id_is_the_run_id(shard_repo):
    repo, env = shard_repo
    ci = {**env, "GITHUB_RUN_ID": "5551234", "GITHUB_RUN_ATTEMPT": "1"}
    done = run_pytest(repo, ci, "--testlog", "--testlog-shard=1/2", "tests",
                      base=("-p", "no:randomly", "-p", "no:cacheprovider"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(shard 1/2 of run github-5551234-1, run id from GITHUB_RUN_ID, GITHUB_RUN_ATTEMPT)" \
        in done.stdout
    assert git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Run-Id,valueonly)",
               "testlog").strip() == "github-5551234-1"


# -- three CI jobs, three chains -------------------------------------------------------------------

def test_shards_of_three_clones_meet_through_a_remote(tmp_path, sandbox, gpg_key):
    """Three clones (writer ids ci-1..ci-3) each record one shard and push; a fresh clone
    fetches the three chains and reads, replays and seals them as one run. A fourth job that
    fetched first and records shard 2 again is refused."""
    env = pytest_env(sandbox)
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(make_repo(tmp_path / "seed", SUITE), "push", "-q", str(remote), "main")
    for k in (1, 2, 3):
        clone = tmp_path / f"job{k}"
        git(tmp_path, "clone", "-q", str(remote), str(clone))
        git(clone, "config", "testlog.writer", f"ci-{k}")
        done = record(clone, {**env, "CI_PIPELINE_ID": "4242"}, f"--testlog-shard={k}/3")
        assert done.returncode == 0, done.stdout + done.stderr
        pushed = cli(clone, env, "push")
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(remote), str(fresh))
    fetched = cli(fresh, env, "fetch")
    assert fetched.returncode == 0, fetched.stdout + fetched.stderr
    listed = cli(fresh, env, "log", "--runs")
    assert listed.returncode == 0 and len(listed.stdout.splitlines()) == 1, listed.stdout
    assert "ci-" in listed.stdout and "3/3 shards of run gitlab-4242" in listed.stdout
    shown = json.loads(cli(fresh, env, "show", "gitlab-4242", "--json").stdout)
    assert sorted(shown["run"]["nodeids"]) == NODEIDS
    assert sorted(c["chain"] for c in shown["run"]["shards"]["commits"]) == \
        [f"refs/testlog/chains/ci-{k}" for k in (1, 2, 3)]
    replayed = cli(fresh, env, "replay", "gitlab-4242")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "12 of 12 tests verified" in replayed.stdout
    # A job that sees the others' chains is refused its duplicate.
    late = tmp_path / "job2-again"
    git(tmp_path, "clone", "-q", str(remote), str(late))
    git(late, "config", "testlog.writer", "ci-2-again")
    assert cli(late, env, "fetch").returncode == 0
    again = record(late, {**env, "CI_PIPELINE_ID": "4242"}, "--testlog-shard=2/3")
    assert again.returncode == 4 and "shard 2/3 of run gitlab-4242 is already recorded " \
        "(commit" in again.stdout and "refs/testlog/chains/ci-2)" in again.stdout, again.stdout
    # seal (job 1, which fetched the others' chains): every shard, each under its writer's
    # chain but its own, and one Statement for the whole run.
    job1 = tmp_path / "job1"
    assert cli(job1, env, "fetch").returncode == 0
    git(job1, "config", "user.signingkey", gpg_key)
    sealed = cli(job1, env, "seal")
    assert sealed.returncode == 0, sealed.stdout + sealed.stderr
    [zip_path] = [p for p in git(job1, "ls-tree", "-r", "--name-only", "testlog",
                                 "audit/").split() if p.endswith(".zip")]
    blob = subprocess.run(["git", "show", f"testlog:{zip_path}"], cwd=job1,
                          capture_output=True, check=True).stdout
    (tmp_path / "seal.zip").write_bytes(blob)
    bundle = zipfile.ZipFile(tmp_path / "seal.zip")
    index = json.loads(bundle.read("sharded-runs.json"))
    assert index["gitlab-4242"]["missing"] == []
    day = shown["run"]["day"]
    assert index["gitlab-4242"]["shards"] == {"1": f"runs/{day}__tests~1of3__run.json", **{
        str(k): f"chains/ci-{k}/runs/{day}__tests~{k}of3__run.json" for k in (2, 3)}}
    statement = json.loads(bundle.read("attestations/sharded/gitlab-4242.intoto.json"))
    assert sorted(statement["predicate"]["passedTests"]) == NODEIDS
    assert statement["predicate"]["result"] == "PASSED"


def test_a_sharded_run_is_trusted_only_when_every_shard_is(shard_repo, gpg_key, tmp_path):
    """With trusted keys, an unsigned shard (here the last: the first is signed) refuses the
    replay of the whole run; forced, the report says what was waived."""
    repo, env = shard_repo
    git(repo, "config", "user.signingkey", gpg_key)
    for spec, extra in (("1/3", ()), ("2/3", ()), ("3/3", ("--testlog-no-sign",))):
        done = record(repo, env, f"--testlog-shard={spec}", "--testlog-run-id=t1", *extra)
        assert done.returncode == 0, done.stdout + done.stderr
    keys = tmp_path / "keys.asc"
    keys.write_text(subprocess.run(["gpg", "--armor", "--export", gpg_key], env=env,
                                   capture_output=True, text=True, check=True).stdout)
    refused = cli(repo, env, "replay", "t1", "--trusted-keys", str(keys))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "trusted keys are configured and shard" in refused.stderr
    assert "is unsigned" in refused.stderr and refused.stderr.count("\n") == 1
    forced = cli(repo, env, "replay", "t1", "--trusted-keys", str(keys), "--trust-run")
    assert forced.returncode == 0, forced.stdout + forced.stderr


def test_a_sharded_run_replays_the_os_entropy_each_shard_drew(tmp_path, sandbox):
    suite = {f"tests/test_token{n}.py": "import os\n\n\n" + "".join(
        f"def test_token_{n}_{i}(testlog):\n    testlog.output('token', os.urandom(8).hex())\n\n\n"
        for i in range(3)) for n in range(4)}
    repo, env = make_repo(tmp_path / "proj", suite), pytest_env(sandbox)
    done = start_shards(repo, env, ["1/2", "2/2"], "--testlog-run-id=tokens-1")
    assert all(p.returncode == 0 for p in done), [p.stdout + p.stderr for p in done]
    # Each test's output is fresh OS entropy: only the bytes its shard recorded reproduce it.
    replayed = cli(repo, env, "replay", "tokens-1")
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "replay of run tokens-1 (2/2 shards)" in replayed.stdout
    assert "12 of 12 tests verified" in replayed.stdout


def test_flaky_and_history_read_the_shards_under_the_runs_suite(shard_repo):
    repo, env = shard_repo
    done = start_shards(repo, env, ["1/2", "2/2"], "--testlog-run-id=r-9")
    assert all(p.returncode == 0 for p in done), [p.stdout + p.stderr for p in done]
    shown = cli(repo, env, "history", "--suite", "tests")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert shown.stdout.startswith("suite tests: "), shown.stdout
    assert "tests~" not in shown.stdout                 # no shard appears as a suite of its own
    flaky = cli(repo, env, "flaky", "--suite", "tests")
    assert flaky.returncode == 0, flaky.stdout + flaky.stderr
