"""Gates that see regressions, for real: pushes through the hook shims and through `pre-commit
try-repo` (a drop blocked by max_drop naming the previous value, new lines blocked by
patch_target naming them, a fix passing, the ledger going along), a top-level `tests/` project,
gates that checked nothing, an unmeasurable base, progress while a module runs."""
from __future__ import annotations

import json
import os
import subprocess
import threading
from pathlib import Path

import pytest

from tests.fixtures import git, user_state
from tests.gate_repos import BIN, commit_all, ledger, log_tip, module, mono_repo
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[1]
HOOKS = ROOT / "hooks"
FUNCTIONS = 100
# 200 statements, all run by the tests: 100% (a `def` line runs at import, its body only when
# a test calls it).
CORE = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(FUNCTIONS))
TESTS = ("from toolz.core import *  # noqa: F403\n\n\n"
         "def test_most():\n" + "".join(f"    assert f{i}(0) == {i}\n" for i in range(90)) +
         "\n\ndef test_the_rest():\n" +
         "".join(f"    assert f{i}(0) == {i}\n" for i in range(90, FUNCTIONS)))
NEW_CODE = "\n\ndef added(x):\n    y = x * 2\n    return y\n"
NEW_TEST = "\n\ndef test_added():\n    from toolz.core import added\n    assert added(2) == 4\n"


def toolz_manifest() -> str:
    return json.dumps({"module": "toolz", "tags": ["lane:L3"],
                       "testing": {"coverage_target": 50, "max_drop": 2}}, indent=2) + "\n"


def run(cwd: Path, *argv: str, env: dict | None = None, stdin: str | None = None):
    return subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, env=env, input=stdin)


@pytest.fixture(autouse=True)
def project_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("PRE_COMMIT_HOME", str(tmp_path / "pre-commit-home"))
    for name in ("VIRTUAL_ENV", "PRE_COMMIT", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF",
                 "PRE_COMMIT_REMOTE_NAME", "PRE_COMMIT_REMOTE_BRANCH", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def toolz(tmp_path: Path) -> Path:
    """A toolz-like module (L3, max_drop 2) already on a bare `origin`, nothing in the ledger."""
    repo = mono_repo(tmp_path / "work", {
        "toolz/module.manifest.json": toolz_manifest(), "toolz/__init__.py": "",
        "toolz/core.py": CORE, "toolz/tests/test_core.py": TESTS})
    git(tmp_path, "init", "-q", "--bare", "origin.git")
    git(repo, "remote", "add", "origin", str(tmp_path / "origin.git"))
    git(repo, "push", "-q", "origin", "main")
    git(repo, "config", "testlog.writer", "dev")         # its chain: refs/testlog/chains/dev
    return repo


def remote_main(repo: Path) -> str:
    return git(repo, "ls-remote", "origin", "refs/heads/main").split()[0]


def drop_the_rest(repo: Path) -> None:
    """Delete test_the_rest: 10 functions' bodies (10 of 200 statements) no longer run: 95%."""
    text = TESTS.split("\n\ndef test_the_rest")[0] + "\n"
    (repo / "toolz" / "tests" / "test_core.py").write_text(text)


def test_pushes_through_the_shims_block_a_drop_and_new_uncovered_lines_then_a_fix_passes(toolz):
    git(toolz, "config", "core.hooksPath", str(HOOKS))
    base = remote_main(toolz)
    drop_the_rest(toolz)
    commit_all(toolz, "drop a test")
    before = user_state(toolz)
    proc = run(toolz, "git", "push", "origin", "main")
    assert proc.returncode != 0 and remote_main(toolz) == base
    # the previous value, where it was measured, the drop and the allowance
    assert f"toolz: 95.00% (was 100.00% at {base[:7]}, \u22125.00 points > max drop 2) " \
        "(lane L3)" in proc.stdout, proc.stdout
    assert f"base {base[:7]} is not in the ledger: running the base's tests under coverage" \
        in proc.stdout
    assert "note: toolz: no executable lines changed: the changed-lines check passes" in proc.stdout
    assert user_state(toolz) == before
    # the base measured on demand joined the ledger: the next push finds it there
    assert [(e["coverage"], e.get("role"), e["source_commit"]) for e in ledger(toolz)] == \
        [(95.0, None, git(toolz, "rev-parse", "HEAD").strip()), (100.0, "base", base)]

    (toolz / "toolz" / "tests" / "test_core.py").write_text(TESTS)
    (toolz / "toolz" / "core.py").write_text(CORE + NEW_CODE)
    commit_all(toolz, "new code, no test for it")
    proc = run(toolz, "git", "push", "origin", "main")
    lines = 4 * FUNCTIONS
    assert proc.returncode != 0 and remote_main(toolz) == base
    # the new function's def ran at import; its body did not
    assert (f"toolz: changed lines 33.33% covered (1 of 3) < patch target 85% (lane L3); not "
            f"covered: toolz/core.py:{lines + 4}-{lines + 5}") in proc.stdout, proc.stdout
    assert "is not in the ledger" not in proc.stdout        # the base came from the ledger
    assert "Coverage gate failed (1 problem): 1 module checked" in proc.stdout

    (toolz / "toolz" / "tests" / "test_core.py").write_text(TESTS + NEW_TEST)
    fixed = commit_all(toolz, "test the new code")
    proc = run(toolz, "git", "push", "origin", "main")
    assert proc.returncode == 0, proc.stdout
    assert remote_main(toolz) == fixed
    assert "Coverage gate passed: 1 module checked" in proc.stdout
    # origin has no chain of this writer yet: the ledger commit stays local, and the hook says so
    assert ("git-testlog: the ledger commit stays local: origin has no chain of writer dev yet; "
            "run `git testlog push origin` once") in proc.stdout
    assert git(toolz, "ls-remote", "origin", "refs/testlog/*", "refs/heads/testlog") == ""


def test_after_the_log_is_published_once_a_gated_push_carries_the_ledger_along(toolz):
    assert run(toolz, "git", "testlog", "cov", "--all").returncode == 0
    assert run(toolz, "git", "testlog", "push", "origin").returncode == 0
    git(toolz, "config", "core.hooksPath", str(HOOKS))
    (toolz / "toolz" / "core.py").write_text(CORE + NEW_CODE)
    (toolz / "toolz" / "tests" / "test_core.py").write_text(TESTS + NEW_TEST)
    head = commit_all(toolz, "new code, tested")
    proc = run(toolz, "git", "push", "origin", "main")
    assert proc.returncode == 0, proc.stdout
    assert remote_main(toolz) == head
    tip = log_tip(toolz)
    assert f"git-testlog: pushed refs/testlog/chains/dev {tip[:10]} to origin along" in proc.stdout
    assert git(toolz, "ls-remote", "origin", "refs/testlog/chains/dev").split()[0] == tip
    assert ledger(toolz)[-1]["source_commit"] == head


def try_repo(repo: Path, start: str, end: str, *extra: str) -> subprocess.CompletedProcess:
    argv = [os.path.join(BIN, "pre-commit"), "try-repo", str(ROOT), "testlog-coverage-gate",
            "--hook-stage", "pre-push", "--from-ref", start, "--to-ref", end, "--verbose", *extra]
    return run(repo, *argv)


def test_the_same_sequence_through_pre_commit_try_repo(toolz):
    base = remote_main(toolz)
    drop_the_rest(toolz)
    head = commit_all(toolz, "drop a test")
    proc = try_repo(toolz, "origin/main", "HEAD")
    assert proc.returncode == 1, proc.stdout
    assert "git-testlog: origin/main..HEAD: 1 file(s) changed" in proc.stdout    # whole refs
    assert f"toolz: 95.00% (was 100.00% at {base[:7]}, \u22125.00 points > max drop 2)" \
        in proc.stdout
    (toolz / "toolz" / "tests" / "test_core.py").write_text(TESTS)
    (toolz / "toolz" / "core.py").write_text(CORE + NEW_CODE)
    head = commit_all(toolz, "new code")
    proc = try_repo(toolz, base, head)
    assert proc.returncode == 1, proc.stdout
    assert f"not covered: toolz/core.py:{4 * FUNCTIONS + 4}-{4 * FUNCTIONS + 5}" in proc.stdout
    (toolz / "toolz" / "tests" / "test_core.py").write_text(TESTS + NEW_TEST)
    head = commit_all(toolz, "tested")
    proc = try_repo(toolz, base, head)
    assert proc.returncode == 0, proc.stdout
    assert "Coverage gate passed: 1 module checked" in proc.stdout


def test_framework_without_refs_says_nothing_to_check_and_fails_unless_allowed(toolz):
    env = {**os.environ, "PRE_COMMIT": "1"}
    proc = run(toolz, "git", "testlog", "hook", "pre-push", env=env, stdin="")
    assert proc.returncode == 1
    assert "git-testlog: nothing to check: no pushed refs on stdin and no PRE_COMMIT_FROM_REF/" \
        "PRE_COMMIT_TO_REF; pass --allow-empty if that is expected" in proc.stdout
    assert run(toolz, "git", "testlog", "hook", "pre-push", "--allow-empty", env=env,
               stdin="").returncode == 0
    by_hand = run(toolz, "git", "testlog", "hook", "pre-push", stdin="")
    assert by_hand.returncode == 0 and "nothing to check" in by_hand.stdout
    assert log_tip(toolz) == ""


TOP_LEVEL = {
    "README.md": "more\n",
    "more_itertools/module.manifest.json": json.dumps(
        {"module": "more_itertools", "tags": ["lane:L2"],
         "testing": {"tests": ["../tests"]}}) + "\n",
    "more_itertools/__init__.py": "",
    "more_itertools/more.py": "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n",
    "tests/test_more.py": ("from more_itertools.more import double, triple\n\n\n"
                           "def test_double():\n    assert double(2) == 4\n\n\n"
                           "def test_triple():\n    assert triple(1) == 3\n"),
}


def test_a_project_with_a_top_level_tests_folder(tmp_path: Path):
    from tests.fixtures import make_repo
    repo = make_repo(tmp_path / "more", {**TOP_LEVEL, ".gitignore": "__pycache__/\n"})
    proc = run(repo, "git", "testlog", "gate", "--all")
    assert proc.returncode == 0, proc.stdout
    assert "more_itertools: 100.00% (tests passed" in proc.stdout
    assert "Coverage gate passed: 1 module checked" in proc.stdout
    (entry,) = ledger(repo)
    assert (entry["path"], entry["coverage"]) == ("more_itertools", 100.0)
    # a change to the top-level tests selects the module that declares them
    text = TOP_LEVEL["tests/test_more.py"].split("\n\n\ndef test_triple")[0] + "\n"
    (repo / "tests" / "test_more.py").write_text(text)
    proc = run(repo, "git", "testlog", "gate", "--affected")
    assert proc.returncode == 1
    assert "Coverage of 1 module (modules affected by uncommitted changes)" in proc.stdout
    assert "more_itertools: 75.00% < target 80% (lane L2)" in proc.stdout


def test_a_gate_that_checked_nothing_fails_saying_why(tmp_path: Path):
    repo = mono_repo(tmp_path / "r", module("lonely", "L2", test=None))
    proc = run(repo, "git", "testlog", "gate", "--all")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-1] == (
        "Coverage gate checked nothing: every selected module was skipped (lonely: no tests/ "
        "folder); pass --allow-empty if that is expected")
    assert run(repo, "git", "testlog", "gate", "--all", "--allow-empty").returncode == 0
    empty = mono_repo(tmp_path / "none")
    proc = run(empty, "git", "testlog", "gate", "--all")
    assert proc.returncode == 1 and "checked nothing: all modules: no modules here" in proc.stdout
    # a change that touches no module is no failure: there is nothing of it to gate
    (repo / "README.md").write_text("changed\n")
    proc = run(repo, "git", "testlog", "gate", "--affected")
    assert proc.returncode == 0 and "no module owns a changed file" in proc.stdout
    assert log_tip(repo) == "" and log_tip(empty) == ""


def test_a_base_that_no_longer_checks_out_is_said_and_the_target_alone_judged(tmp_path: Path):
    repo = mono_repo(tmp_path / "r", module("m", "L3", target=50))
    unique = "def double(x):\n    return 2 * x  # only at the base\n\n\ndef triple(x):\n    return 3 * x\n"
    (repo / "m" / "code.py").write_text(unique)
    base = commit_all(repo, "base with a blob nothing else has")
    blob = git(repo, "rev-parse", f"{base}:m/code.py").strip()
    (repo / "m" / "code.py").write_text(unique.replace("  # only at the base", ""))
    commit_all(repo, "next")
    os.remove(repo / ".git" / "objects" / blob[:2] / blob[2:])       # the base's blob is gone
    proc = run(repo, "git", "testlog", "gate", "--all", "--base", base)
    assert proc.returncode == 0, proc.stdout
    assert f"note: m: base {base[:7]} could not be measured (its tree no longer checks out: " \
        in proc.stdout
    assert "judged on the absolute target only" in proc.stdout
    assert "Coverage gate passed: 1 module checked" in proc.stdout


FIFO_TEST = """import os


def test_waits_for_the_go():
    with open(os.environ["GO_FIFO"]) as go:
        assert go.read() == "go"
"""


def test_a_long_module_shows_a_start_line_heartbeats_and_its_result(tmp_path: Path):
    repo = mono_repo(tmp_path / "r", module("slow", "L0", test=FIFO_TEST))
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    env = {**os.environ, "GO_FIFO": str(fifo), "TESTLOG_HEARTBEAT_SECONDS": "0.1"}
    proc = subprocess.Popen(["git", "testlog", "cov", "--all"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(proc.stdout or []), daemon=True)
    reader.start()
    wait_until(lambda: any("still running" in line for line in seen), "a heartbeat line")
    fifo.write_text("go")
    assert proc.wait(timeout=120) == 0
    reader.join(timeout=60)
    starts = [line for line in seen if line.startswith("[1/1] slow: running its tests")]
    beats = [line for line in seen if line.startswith("[1/1] slow: still running (")]
    results = [line for line in seen if line.startswith("[1/1] slow: ") and "tests passed" in line]
    assert len(starts) == 1 and beats and len(results) == 1
    assert seen.index(starts[0]) < seen.index(beats[0]) < seen.index(results[0])


def test_step_summary_is_written_for_github_actions(toolz: Path, tmp_path: Path):
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    drop_the_rest(toolz)
    commit_all(toolz, "drop")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary)}
    proc = run(toolz, "git", "testlog", "gate", "--all", "--base", "origin/main", env=env)
    assert proc.returncode == 1
    text = summary.read_text()
    assert text.startswith("earlier step\n### \u274c Coverage gate: Coverage gate failed (1 problem)")
    assert "| `toolz` | L3 | 95.00% | 50% | -5.00 vs `" in text


def test_gate_bogus_option_exits_2_in_one_line(toolz: Path):
    proc = subprocess.run(["git", "testlog", "gate", "--bogus"], cwd=toolz, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("git-testlog: error: ") and proc.stderr.count("\n") == 1
    assert "--bogus" in proc.stderr


@pytest.mark.parametrize("testing, message", [
    ({"max_dorp": 1}, "toolz/module.manifest.json: testing.max_dorp is not a known field (did "
                      "you mean testing.max_drop?)"),
    ({"max_drop": -1}, "toolz/module.manifest.json: testing.max_drop is -1"),
    ({"patch_target": 101}, "toolz/module.manifest.json: testing.patch_target is 101"),
    ({"tests": ["../../elsewhere"]},
     "toolz/module.manifest.json: testing.tests holds '../../elsewhere', which is outside the "
     "repository"),
])
def test_bad_manifest_fields_stop_the_gate_in_one_line(toolz: Path, testing, message):
    data = json.loads(toolz_manifest())
    data["testing"].update(testing)
    (toolz / "toolz" / "module.manifest.json").write_text(json.dumps(data))
    before = user_state(toolz)
    proc = subprocess.run(["git", "testlog", "gate", "--all"], cwd=toolz, capture_output=True,
                          text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith(f"git-testlog: error: {message}") and \
        proc.stderr.count("\n") == 1, proc.stderr
    assert user_state(toolz) == before and log_tip(toolz) == ""



def test_ctrl_c_while_a_module_runs_exits_130_and_records_nothing(tmp_path: Path):
    repo = mono_repo(tmp_path / "r", module("slow", "L0", test=FIFO_TEST))
    fifo = tmp_path / "go"
    os.mkfifo(fifo)
    env = {**os.environ, "GO_FIFO": str(fifo)}
    proc = subprocess.Popen(["git-testlog", "gate", "--all"], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline() if proc.stdout else ""
    assert first.startswith("Coverage of 1 module"), first
    started = proc.stdout.readline() if proc.stdout else ""
    assert started.startswith("[1/1] slow: running its tests"), started
    proc.send_signal(2)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert err.strip().splitlines()[-1] == "git-testlog: interrupted"
    assert log_tip(repo) == ""
