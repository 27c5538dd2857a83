"""The hooks for real: `git push` to a local bare remote through the shims in hooks/ (via
core.hooksPath), `git commit` through the pre-commit shim, and `pre-commit try-repo`."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.fixtures import git, user_state
from tests.gate_repos import (
    BIN,
    FAILING_TEST,
    FULL_TEST,
    HALF_TEST,
    commit_all,
    ledger,
    log_tip,
    module,
    mono_repo,
)

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "hooks"


@pytest.fixture(autouse=True)
def project_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    for name in ("VIRTUAL_ENV", "PRE_COMMIT", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF"):
        monkeypatch.delenv(name, raising=False)


def run(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    """git shows a hook's stdout on its own stdout or stderr depending on the version: both."""
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


@pytest.fixture
def pushed(tmp_path: Path) -> Path:
    """A monorepo whose main is already on a bare `origin`, with the shims installed."""
    repo = mono_repo(tmp_path / "work", module("alpha", "L1"), module("beta", "L1"),
                     module("gamma", "L2"))
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "config", "core.hooksPath", str(HOOKS))
    return repo


def test_push_below_target_is_blocked_naming_the_module_then_a_good_push_passes(pushed: Path):
    remote = git(pushed, "rev-parse", "origin/main").strip()
    (pushed / "gamma" / "tests" / "test_gamma.py").write_text(HALF_TEST.format(pkg="gamma"))
    commit_all(pushed, "gamma: drop a test")
    before = user_state(pushed)
    proc = run(pushed, "git", "push", "origin", "main")
    assert user_state(pushed) == before
    assert proc.returncode != 0
    assert "gamma: 75.00% < target 80% (lane L2)" in proc.stdout
    # and 25 points below its base (origin/main, measured now since the ledger had none)
    assert f"gamma: 75.00% (was 100.00% at {remote[:7]}, \u221225.00 points > max drop 1) " \
        "(lane L2)" in proc.stdout
    assert "Coverage gate failed (2 problems): 1 module checked" in proc.stdout
    assert git(pushed, "ls-remote", "origin", "refs/heads/main").split()[0] == remote
    (pushed / "gamma" / "tests" / "test_gamma.py").write_text(FULL_TEST.format(pkg="gamma") + "# again\n")
    head = commit_all(pushed, "gamma: test it all again")
    proc = run(pushed, "git", "push", "origin", "main")
    assert proc.returncode == 0, proc.stdout
    assert "Coverage gate passed: 1 module checked" in proc.stdout
    assert git(pushed, "ls-remote", "origin", "refs/heads/main").split()[0] == head
    # only the touched module's tests ran, once per push (and once at the base, on demand)
    assert [(e["path"], e["coverage"], e.get("role")) for e in ledger(pushed)] == \
        [("gamma", 75.0, None), ("gamma", 100.0, "base"), ("gamma", 100.0, None)]


def test_new_branch_deletion_and_the_log_branch(pushed: Path):
    git(pushed, "checkout", "-q", "-b", "topic")
    (pushed / "alpha" / "tests" / "test_alpha.py").write_text(FAILING_TEST)
    commit_all(pushed, "alpha: a failing test")
    proc = run(pushed, "git", "push", "origin", "topic")          # new: merge-base with main
    assert proc.returncode != 0 and "alpha: tests failed" in proc.stdout
    assert [e["path"] for e in ledger(pushed)] == ["alpha"]
    tip = log_tip(pushed)
    proc = run(pushed, "git", "push", "origin", "testlog")        # the log branch: never gated
    assert proc.returncode == 0, proc.stdout
    assert "the log branch, never gated" in proc.stdout and log_tip(pushed) == tip
    git(pushed, "push", "-q", "--no-verify", "origin", "topic")
    proc = run(pushed, "git", "push", "origin", "--delete", "topic")
    assert proc.returncode == 0 and "deleted, nothing to check" in proc.stdout
    assert log_tip(pushed) == tip


def test_pre_commit_shim_runs_the_staged_modules_tests(pushed: Path):
    (pushed / "beta" / "tests" / "test_beta.py").write_text(FAILING_TEST)
    git(pushed, "add", "beta")
    proc = run(pushed, "git", "commit", "-m", "beta: broken")
    assert proc.returncode != 0
    assert "Tests failed in beta" in proc.stdout
    assert "alpha" not in proc.stdout
    assert log_tip(pushed) == ""                                   # tests only, no ledger
    git(pushed, "reset", "-q", "--hard")
    (pushed / "gamma" / "tests" / "test_gamma.py").write_text(FAILING_TEST)
    proc = run(pushed, "git", "commit", "-am", "gamma: broken")     # a temporary index
    assert proc.returncode != 0 and "Tests failed in gamma" in proc.stdout


def test_pre_commit_framework_try_repo_pre_push_stage(pushed: Path):
    base = git(pushed, "rev-parse", "HEAD").strip()
    git(pushed, "config", "--unset", "core.hooksPath")
    (pushed / "gamma" / "tests" / "test_gamma.py").write_text(HALF_TEST.format(pkg="gamma"))
    head = commit_all(pushed, "gamma: drop a test")
    argv = [os.path.join(BIN, "pre-commit"), "try-repo", str(ROOT), "testlog-coverage-gate",
            "--hook-stage", "pre-push", "--from-ref", base, "--to-ref", head, "--verbose"]
    proc = run(pushed, *argv)
    assert proc.returncode == 1, proc.stdout
    assert "gamma: 75.00% < target 80% (lane L2)" in proc.stdout
    assert [(e["path"], e.get("role")) for e in ledger(pushed)] == [("gamma", None), ("gamma", "base")]
    proc = run(pushed, *argv[:-5], "--from-ref", base, "--to-ref", base, "--verbose")
    assert proc.returncode == 0, proc.stdout


def test_hook_shims_have_no_logic():
    for stage in ("pre-push", "pre-commit"):
        text = (HOOKS / stage).read_text()
        code = [line for line in text.splitlines() if line and not line.startswith("#")]
        assert code == [f'exec git testlog hook {stage} "$@"']
        assert os.access(HOOKS / stage, os.X_OK)


def test_framework_push_of_the_log_branch_and_malformed_stdin(pushed: Path):
    head = git(pushed, "rev-parse", "HEAD").strip()
    env = {**os.environ, "PRE_COMMIT": "1", "PRE_COMMIT_FROM_REF": head + "~0",
           "PRE_COMMIT_TO_REF": head, "PRE_COMMIT_REMOTE_BRANCH": "refs/heads/testlog"}
    proc = subprocess.run(["git", "testlog", "hook", "pre-push"], cwd=pushed, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "pushing the log branch: nothing to gate" in proc.stdout
    proc = subprocess.run(["git", "testlog", "hook", "pre-push", "origin"], cwd=pushed,
                          input="refs/heads/main not-a-sha\n", capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == ("git-testlog: error: pre-push input line 1 is not `<local ref> "
                           "<local sha> <remote ref> <remote sha>`: 'refs/heads/main not-a-sha'\n")
    assert log_tip(pushed) == ""
