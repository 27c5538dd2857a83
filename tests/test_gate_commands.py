"""`git testlog cov|gate|bench` on real repositories, real pytest subprocesses, the real log branch."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from testlog.cli import main
from tests.fixtures import git, user_state
from tests.gate_repos import (
    BIN,
    FAILING_TEST,
    HALF_TEST,
    commit_all,
    example_repo,
    ledger,
    ledger_paths,
    log_tip,
    manifest,
    module,
    mono_repo,
)
from tests.recorder_helpers import events as log_events


@pytest.fixture(autouse=True)
def project_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
    for name in ("VIRTUAL_ENV", "PRE_COMMIT", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF"):
        monkeypatch.delenv(name, raising=False)


def cli(capsys: pytest.CaptureFixture, repo: Path, *args: str) -> tuple[int, str, str]:
    code = main(["-C", str(repo), *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_example_monorepo_cov_gate_and_bench(tmp_path: Path, capsys):
    repo = example_repo(tmp_path / "mono")
    head = git(repo, "rev-parse", "HEAD").strip()
    before = user_state(repo)
    code, out, _ = cli(capsys, repo, "cov", "--all", "-j", "2")
    assert code == 0
    assert "governance: no tests/ folder (skipped)" in out
    # a line as each of the five measured modules starts, and one result line per module
    # (plus a heartbeat for any module still running after 10 s on a loaded machine)
    progress = [line for line in out.splitlines()
                if line.startswith("[") and "still running" not in line]
    assert len(progress) == 11
    assert len([line for line in progress if line.endswith("under coverage...")]) == 5
    lines = {e["path"]: e for e in ledger(repo)}
    assert sorted(lines) == ["consciousness", "identity", "memory", "services", "services/billing"]
    low = lines["consciousness"]
    assert (low["module"], low["coverage"], low["tests"], low["lane"], low["target"]) == \
        ("consciousness", 26.32, "passed", "L2", 80.0)
    assert low["source_commit"] == head and not low["dirty"]
    assert low["tree"] == git(repo, "rev-parse", "HEAD:consciousness").strip()
    assert lines["services"]["coverage"] == 100.0          # billing's files are billing's alone
    assert len({e["env_fingerprint"] for e in lines.values()}) == 1
    [path] = ledger_paths(repo)                              # the day's file
    day = low["ts"][:10]
    assert path == f"ledger/coverage/{day[:7]}/{day[8:]}.ndjson"
    raw = git(repo, "show", f"testlog:{path}")
    assert str(tmp_path) not in raw and BIN not in raw      # repository-relative paths only
    events = log_events(repo)
    assert [e["event"] for e in events] == ["COVERAGE_RECORDED"]
    artifact = git(repo, "show", f"testlog:{events[0]['artifact']}")
    assert events[0]["artifact"].startswith("measurements/")
    assert json.loads(artifact)["problems"] == ["consciousness: 26.32% < target 80% (lane L2)"]
    assert user_state(repo) == before

    tip = log_tip(repo)
    code, out, _ = cli(capsys, repo, "gate", "--all")
    assert code == 1
    assert "consciousness: 26.32% < target 80% (lane L2)\n" in out
    assert "Coverage gate failed (1 problem): 5 modules checked, 1 skipped" in out
    assert out.count("(cached: measured") == 5 and log_tip(repo) == tip   # nothing re-run

    code, out, _ = cli(capsys, repo, "bench", "--module", "identity")
    assert code == 0, out
    (entry,) = ledger(repo, "bench")
    assert entry["benchmark"].endswith("test_bench_tokens.py::test_token_latency")
    assert entry["rounds"] == 40 and entry["sla_p95_ms"] == 50.0
    assert 0 < entry["latency_p50_ms"] <= entry["latency_p95_ms"] <= entry["latency_p99_ms"]
    assert "SLO gate passed: 1 benchmark in 1 module" in out
    assert user_state(repo) == before


def test_slo_violation_fails_bench_and_is_recorded(tmp_path: Path, capsys):
    bench = ("from m.code import double\n\n\ndef test_double_speed(benchmark):\n"
             "    benchmark.pedantic(double, args=(2,), rounds=10, iterations=2)\n")
    repo = mono_repo(tmp_path / "r", module("m", "L2", sla=0.000001),
                     {"m/tests/benchmarks/test_speed.py": bench}, module("n", "L2"))
    code, out, _ = cli(capsys, repo, "bench", "--all", "--update-manifests")
    assert code == 1
    assert "n: no benchmarks (skipped)" in out
    (entry,) = ledger(repo, "bench")
    violation = (f"m: p95 {entry['latency_p95_ms']:.2f} ms > SLA 1e-06 ms "
                 f"({entry['benchmark']})")
    assert violation in out.splitlines()
    observed = json.loads((repo / "m" / "module.manifest.json").read_text())["performance"]
    assert observed["observed"]["latency_p95_ms"] == entry["latency_p95_ms"]
    assert observed["observed"]["env_fingerprint"] == entry["env_fingerprint"]


def test_exit_5_is_zero_percent_and_failures_fail_the_gate(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("empty", "L0", test="# no tests here\n"),
                     module("broken", "L1", test=FAILING_TEST), module("half", "L2", test=HALF_TEST))
    code, out, _ = cli(capsys, repo, "gate", "--all", "-j", "2")
    assert code == 1
    problems = [line for line in out.splitlines() if ": " in line and not line.startswith(("[", " "))]
    assert "empty: 0.00% < target 70% (lane L0)" in problems
    assert "half: 75.00% < target 80% (lane L2)" in problems
    assert "broken: tests failed" in problems
    assert "empty: 0.00% (no tests collected" in out
    assert "assert 1 == 2" in out                     # the failing test's output is shown
    assert {e["path"]: e["tests"] for e in ledger(repo)} == \
        {"broken": "failed", "empty": "no-tests", "half": "passed"}


def test_cache_no_cache_and_dirty_modules(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("a", "L1"), module("b", "L1"))
    assert cli(capsys, repo, "cov", "--module", "a", "b")[0] == 0
    first = log_tip(repo)
    code, out, _ = cli(capsys, repo, "cov", "--module", "a", "b")
    assert out.count("cached: measured") == 2 and log_tip(repo) == first
    (repo / "b" / "code.py").write_text((repo / "b" / "code.py").read_text() + "\nX = 1\n")
    code, out, _ = cli(capsys, repo, "cov", "--affected")
    assert "modules affected by uncommitted changes" in out
    (entry,) = ledger(repo)[2:]
    assert (entry["path"], entry["dirty"], entry["coverage"]) == ("b", True, 100.0)
    code, out, _ = cli(capsys, repo, "cov", "--module", "a", "--no-cache")
    assert "cached" not in out and len(ledger(repo)) == 4


def test_parallel_runs_record_the_same_measurements(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("a", "L1"), module("b", "L2", test=HALF_TEST),
                     module("c", "L3", test=FAILING_TEST))
    cli(capsys, repo, "cov", "--all", "-j", "1", "--no-cache")
    cli(capsys, repo, "cov", "--all", "-j", "3", "--no-cache")
    drop = ("ts", "run", "report")
    one, three = ([{k: v for k, v in e.items() if k not in drop} for e in part]
                  for part in (ledger(repo)[:3], ledger(repo)[3:]))
    assert one == three and [e["path"] for e in one] == ["a", "b", "c"]


def test_update_manifests_is_the_only_change_to_the_working_tree(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("a", "L1", target=50), module("b", "L1"))
    before = user_state(repo)
    assert cli(capsys, repo, "cov", "--module", "a", "--update-manifests")[0] == 0
    after = user_state(repo)
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert changed == ["file:a/module.manifest.json", "status"]
    data = json.loads((repo / "a" / "module.manifest.json").read_text())
    assert data["testing"]["coverage_target"] == 50
    assert data["testing"]["coverage_observed"] == 100.0
    assert data["testing"]["observed_at"] == ledger(repo)[0]["ts"]


@pytest.mark.parametrize("text, message", [
    ("{oops", "bad/module.manifest.json: not valid JSON"),
    ('{"tags": ["lane:L7"]}', "bad/module.manifest.json: tags has unknown lane 'L7'"),
    ('{"testing": {"coverage_target": 101}}',
     "bad/module.manifest.json: testing.coverage_target is 101; use a number from 0 to 100"),
])
def test_bad_manifest_is_one_line_and_nothing_is_written(tmp_path: Path, capsys, text, message):
    repo = mono_repo(tmp_path / "r", module("good", "L1"),
                     {"bad/module.manifest.json": text, "bad/tests/test_x.py": FAILING_TEST})
    before = user_state(repo)
    code, out, err = cli(capsys, repo, "cov", "--all")
    assert code == 2 and out == ""
    assert err.startswith(f"git-testlog: error: {message}") and err.count("\n") == 1
    assert log_tip(repo) == "" and user_state(repo) == before


@pytest.mark.parametrize("args, message", [
    (["--all", "--staged"], "--from, --to and --staged go with --affected"),
    (["--affected", "--to", "HEAD"], "--to needs --from"),
    (["--affected", "--staged", "--from", "HEAD"], "either --staged or --from/--to"),
    (["--affected", "--from", "nope"], "unknown revision 'nope'"),
    (["--module", "zzz"], "no module 'zzz' here"),
    (["--all", "-j", "0"], "-j 0: use a positive number"),
])
def test_bad_selection_is_refused(tmp_path: Path, capsys, args, message):
    repo = mono_repo(tmp_path / "r", module("a", "L1"))
    code, _, err = cli(capsys, repo, "cov", *args)
    assert code == 2 and message in err and log_tip(repo) == ""


def test_affected_from_to_and_staged(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("a", "L1"), module("b", "L1"), module("c", "L1"))
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "a" / "code.py").write_text(FULL_CODE_PLUS)
    commit_all(repo, "touch a")
    (repo / "c" / "extra.py").write_text("Y = 2\n")
    git(repo, "add", "c/extra.py")
    code, out, _ = cli(capsys, repo, "cov", "--affected", "--from", base, "--to", "HEAD")
    assert code == 0 and [e["path"] for e in ledger(repo)] == ["a"]
    code, out, _ = cli(capsys, repo, "cov", "--affected", "--staged")
    assert [e["path"] for e in ledger(repo)] == ["a", "c"]


FULL_CODE_PLUS = "def double(x):\n    return 2 * x\n\n\ndef triple(x):\n    return 3 * x\n# edited\n"


def test_project_interpreter_from_settings_and_dot_venv(tmp_path: Path, capsys):
    import sys
    repo = mono_repo(tmp_path / "r", module("a", "L1"))
    git(repo, "config", "testlog.python", "no/such/python")
    code, _, err = cli(capsys, repo, "cov", "--all")
    assert code == 2 and "python = no/such/python (from git config testlog.*) is not an executable" in err
    git(repo, "config", "--unset", "testlog.python")
    (repo / ".venv" / "bin").mkdir(parents=True)
    wrapper = repo / ".venv" / "bin" / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    code, out, _ = cli(capsys, repo, "cov", "--all")
    assert code == 0 and f"with {wrapper} (from .venv;" in out


def test_manifest_is_written_with_a_module_without_tests(tmp_path: Path, capsys):
    repo = mono_repo(tmp_path / "r", module("lonely", "L0", test=None))
    code, out, _ = cli(capsys, repo, "gate", "--all", "--update-manifests", "--allow-empty")
    assert code == 0 and "lonely: no tests/ folder (skipped)" in out
    assert ("Coverage gate checked nothing: every selected module was skipped (lonely: no "
            "tests/ folder) (allowed by --allow-empty)") in out
    assert json.loads((repo / "lonely" / "module.manifest.json").read_text()) == \
        json.loads(manifest("lonely", "L0")) and log_tip(repo) == ""


def test_the_gates_load_their_plugins_themselves_and_leave_no_folder(
        tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch):
    """The project's pytest autoloads no plugin (as when git-testlog's `gates` extra is not
    what put pytest-cov and pytest-benchmark there): the gates still measure, with `-p`, and
    pytest-benchmark's storage folder never lands in the working tree."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    repo = example_repo(tmp_path / "mono")
    code, out, _ = cli(capsys, repo, "cov", "--module", "identity")
    assert code == 0, out
    assert [e["path"] for e in ledger(repo)] == ["identity"]
    code, out, _ = cli(capsys, repo, "bench", "--module", "identity")
    assert code == 0, out
    assert len(ledger(repo, "bench")) == 1
    assert not list(repo.rglob(".benchmarks")), "pytest-benchmark's storage in the worktree"
