"""Record → replay → every test verified: random, NumPy's global RNG, the testlog_rng
Generator, torch, parametrize, skip, xfail and a test that fails the same way again."""
from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from testlog.core.canonical import canonical_json
from tests.fixtures import git, user_state
from tests.recorder_helpers import event_at
from tests.replay_support import (
    PY,
    cli,
    last_report,
    leftovers,
    project,
    record,
    replay,
    run_json,
    sandboxed,
    tip,
    verdicts,
)

BASIC = '''\
import random

import numpy as np
import pytest


def test_python_random(testlog):
    testlog.output("draws", [random.random() for _ in range(5)])


def test_numpy_global(testlog):
    testlog.output("array", np.random.rand(3, 4))
    testlog.output("mean", float(np.random.standard_normal(100).mean()))


def test_generator(testlog, testlog_rng):
    testlog.output("normal", testlog_rng.normal(size=6))


@pytest.mark.parametrize("n", [1, 2, 3])
def test_parametrized(n, testlog):
    testlog.output("scaled", n * random.random())


@pytest.mark.skip(reason="not today")
def test_skipped():
    raise AssertionError("never runs")


@pytest.mark.xfail(reason="known")
def test_expected_failure():
    assert random.random() > 2


def test_fails_the_same_way():
    assert random.random() > 2
'''
TORCH = '''\
import pytest


def test_torch(testlog):
    torch = pytest.importorskip("torch")
    testlog.output("tensor", torch.randn(4, 3))
    testlog.output("sum", float(torch.rand(10).sum()))
'''


@pytest.fixture(scope="module")
def recorded(sandbox, tmp_path_factory):
    """One project recorded once: (repo, run sha, temp dir the replays use)."""
    base = tmp_path_factory.mktemp("replay")
    with sandboxed(sandbox, base / "tmp"):
        repo = project(base / "repo", {"tests/test_basic.py": BASIC, "tests/test_torch.py": TORCH})
        sha = record(repo, "tests", expect=1)
    return repo, sha, base / "tmp"


@pytest.fixture
def env(recorded, sandbox, tmp_path):
    with sandboxed(sandbox, recorded[2]):
        yield recorded


def test_replay_verifies_every_test_and_commits_the_report(env):
    repo, sha, tmp = env
    before = user_state(repo)
    code, out, err = replay(repo, sha[:10])
    assert (code, err) == (0, ""), out + err
    report = last_report(repo)
    assert report["event"]["event"] == "REPLAY_VERIFIED" and report["verdict"] == "VERIFIED"
    names = verdicts(report)
    assert set(names.values()) == {"verified"}
    assert set(names) == {"test_python_random", "test_numpy_global", "test_generator",
                          "test_parametrized[1]", "test_parametrized[2]", "test_parametrized[3]",
                          "test_skipped", "test_expected_failure", "test_fails_the_same_way",
                          "test_torch"}
    statuses = {t["test_name"].split("::")[1]: t["status_replayed"] for t in report["tests"]}
    assert statuses["test_skipped"] == "SKIP" and statuses["test_expected_failure"] == "XFAIL"
    assert statuses["test_fails_the_same_way"] == "FAIL"
    assert report["replay"]["materialized"] == "commit"
    assert report["environment"]["same_platform"] is True
    assert report["run"]["sha"] == sha and report["max_precision_delta"] is None
    assert [t["test_name"] for t in report["tests"]] == run_json(repo, sha)["run"]["nodeids"]
    message = git(repo, "log", "-1", "--format=%B", "testlog")
    assert f"Testlog-Replay-Of: {sha}" in message and "Testlog-Verdict: PASS" in message
    raw = git(repo, "show", f"testlog:{report['event']['artifact']}").encode()
    assert canonical_json(json.loads(raw)) == raw
    md = git(repo, "show", f"testlog:{report['event']['artifact'][:-4]}md")
    assert "# Replay of" in md and ": VERIFIED" in md and "test_torch" in md
    assert "REPLAY_VERIFIED: 10 of 10 tests verified" in out
    assert re.search(r"report replays/\d{8}__tests__replay\.md on refs/heads/testlog", out)
    assert user_state(repo) == before and leftovers(tmp) == []
    git(repo, "fsck", "--strict")


def test_pytest_replay_mode_in_a_checkout_of_the_source(env):
    repo, sha, _tmp = env
    before = user_state(repo)
    proc = subprocess.run([PY, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
                           f"--testlog-replay={sha}", "--testlog-no-sign", "-n", "2", "tests"], cwd=repo,
                          env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "testlog: replaying" in proc.stdout and "same platform" in proc.stdout
    assert "REPLAY_VERIFIED: 10 of 10 tests verified" in proc.stdout
    report = last_report(repo)
    assert report["replay"]["materialized"] == "checkout"
    assert set(verdicts(report).values()) == {"verified"}
    assert user_state(repo) == before


def test_pytest_replay_mode_says_when_the_hash_seed_differs(env):
    repo, sha, _tmp = env
    tip_before = tip(repo)
    proc = subprocess.run([PY, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider",
                           f"--testlog-replay={sha}", "--testlog-no-sign", "--co", "tests"],
                          cwd=repo, env={**os.environ, "PYTHONHASHSEED": "7"},
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "PYTHONHASHSEED is 7 here but was 0 when recorded" in proc.stdout
    assert tip(repo) == tip_before          # collect-only: nothing judged, nothing written


def test_subset_with_keep(env):
    repo, sha, _tmp = env
    before = user_state(repo)
    code, out, err = replay(repo, sha, "-k", "parametrized or generator", "--keep")
    assert code == 0 and user_state(repo) == before, out + err
    kept = re.search(r"kept the replay directory: (\S+)", out).group(1)
    assert os.path.isfile(os.path.join(kept, "src", "tests", "test_basic.py"))
    assert os.path.isfile(os.path.join(kept, "pytest.log"))
    report = last_report(repo)
    assert sorted(verdicts(report)) == ["test_generator", "test_parametrized[1]",
                                        "test_parametrized[2]", "test_parametrized[3]"]
    assert report["replay"]["selection"] == "parametrized or generator"
    assert report["replay"]["not_selected"] == 6 and report["replay"]["directory"]


def test_signed_report_commit_verifies_with_stock_git(env, gpg_key):
    repo, sha, _tmp = env
    before = user_state(repo)
    code, out, err = cli("-C", str(repo), "replay", "--python", PY, "--sign-key", gpg_key, sha,
                         "-k", "python_random")
    assert code == 0 and user_state(repo) == before, out + err
    git(repo, "verify-commit", "testlog")
    assert event_at(repo, "testlog")["signature"] == f"gpg:{gpg_key}"
