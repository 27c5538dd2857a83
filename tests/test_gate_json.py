"""`--json` of cov, gate, bench, hook, verify and replay against the JSON Schemas checked in under
docs/schemas (real repositories, real pytest subprocesses); benchmark baselines for real."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest

from tests.audit_helpers import record_run
from tests.fixtures import git
from tests.gate_repos import BIN, HALF_TEST, commit_all, ledger, module, mono_repo
from tests.replay_support import project, record
from tests.store_helpers import open_store

SCHEMAS = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def schema(name: str) -> jsonschema.Draft202012Validator:
    data = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(data)
    return jsonschema.Draft202012Validator(data)


def run_json(cwd: Path, *argv: str, stdin: str | None = None, env: dict | None = None) -> tuple[int, dict, str]:
    """(exit status, the one JSON document on stdout, stderr)."""
    proc = subprocess.run(["git", "testlog", *argv, "--json"], cwd=cwd, capture_output=True,
                          text=True, input=stdin, env=env)
    doc = json.loads(proc.stdout)          # the whole of stdout is one document
    return proc.returncode, doc, proc.stderr


@pytest.fixture(autouse=True)
def project_env(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PATH", BIN + os.pathsep + os.environ["PATH"])
    for name in ("VIRTUAL_ENV", "PRE_COMMIT", "PRE_COMMIT_FROM_REF", "PRE_COMMIT_TO_REF",
                 "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(name, raising=False)


def test_cov_gate_and_hook_documents_match_the_schema(tmp_path: Path):
    gate_schema = schema("gate")
    repo = mono_repo(tmp_path / "r", module("a", "L2"), module("b", "L3"),
                     module("none", "L0", test=None))
    base = git(repo, "rev-parse", "HEAD").strip()
    code, doc, err = run_json(repo, "cov", "--all")
    gate_schema.validate(doc)
    assert code == doc["exit_status"] == 0 and doc["command"] == "cov"
    assert "[1/3]" in err and "Recorded 2 measurement(s)" in err      # the text went to stderr
    assert [m["coverage"] for m in doc["modules"]] == [100.0, 100.0, None]
    assert doc["ledger_commit"] == git(repo, "rev-parse", "testlog").strip()

    (repo / "b" / "tests" / "test_b.py").write_text(HALF_TEST.format(pkg="b"))
    head = commit_all(repo, "b: drop a test")
    code, doc, _ = run_json(repo, "gate", "--affected", "--from", base)
    gate_schema.validate(doc)
    assert code == doc["exit_status"] == 1 and doc["verdict"] == "fail"
    (b,) = doc["modules"]
    assert (b["coverage"], b["delta"]["base_coverage"], b["delta"]["points"]) == (75.0, 100.0, -25.0)
    assert b["delta"]["base_commit"] == base and b["patch"]["total"] == 0
    assert b["problems"] == doc["problems"] and len(doc["problems"]) == 2

    stdin = f"refs/heads/main {head} refs/heads/main {base}\n"
    code, doc, _ = run_json(repo, "hook", "pre-push", "origin", stdin=stdin)
    gate_schema.validate(doc)
    assert (code, doc["command"], doc["modules"][0]["cached"]) == (1, "hook pre-push", True)
    code, doc, _ = run_json(repo, "hook", "pre-commit", stdin="")
    gate_schema.validate(doc)
    assert (code, doc["check"], doc["modules"]) == (0, "tests", [])
    code, doc, _ = run_json(repo, "gate", "--module", "none")
    gate_schema.validate(doc)
    assert (code, doc["verdict"], doc["modules"][0]["skipped"]) == (1, "empty", "no tests/ folder")


def test_an_error_prints_no_document_and_exits_2(tmp_path: Path):
    repo = mono_repo(tmp_path / "r", module("a", "L2"))
    proc = subprocess.run(["git", "testlog", "gate", "--module", "nope", "--json"], cwd=repo,
                          capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("git-testlog: error: no module 'nope' here")


# Rounds of milliseconds, not microseconds: a loaded machine's scheduling hiccups stay small
# beside them, so neither measurement is too noisy to judge. SLOW is 10x FAST.
FAST = "def work():\n    return sum(range(100_000))\n"
SLOW = "def work():\n    return sum(range(1_000_000))\n"
# Every 8th round is 40x slower than the others: p95 is far above 3x p50, by construction
# (3 of 24 rounds: the 95th percentile falls among them).
SPIKY = """CALLS = [0]


def work():
    CALLS[0] += 1
    return sum(range(60000 if CALLS[0] % 8 == 0 else 1500))
"""
BENCH = ("from m.code import work\n\n\ndef test_work(benchmark):\n"
         "    benchmark.pedantic(work, rounds=24, iterations=1)\n")


def bench_repo(path: Path, code: str, **manifest: float) -> Path:
    files = module("m", "L2", **manifest)
    files["m/code.py"] = code
    files["m/tests/benchmarks/test_speed.py"] = BENCH
    files["m/tests/test_m.py"] = "from m.code import work\n\n\ndef test_it():\n    assert work() >= 0\n"
    repo = mono_repo(path, files)
    data = json.loads((repo / "m" / "module.manifest.json").read_text())
    data.setdefault("performance", {})["max_regression"] = 1.1
    (repo / "m" / "module.manifest.json").write_text(json.dumps(data))
    commit_all(repo, "max_regression 1.1")
    return repo


def test_a_slower_benchmark_than_its_base_fails_after_a_second_measurement(tmp_path: Path):
    repo = bench_repo(tmp_path / "r", FAST)
    base = git(repo, "rev-parse", "HEAD").strip()
    (repo / "m" / "code.py").write_text(SLOW)
    commit_all(repo, "slower")
    code, doc, err = run_json(repo, "bench", "--all", "--base", base)
    schema("gate").validate(doc)
    assert code == 1 and doc["verdict"] == "fail"
    assert f"base {base[:7]} is not in the ledger: running the base's benchmarks" in err
    (m,) = doc["modules"]
    (b,) = m["benchmarks"]
    assert m["remeasured"] is True and b["verdict"] == "regression"
    assert b["regression"]["base_commit"] == base and b["regression"]["ratio"] > 1.1
    assert b["regression"]["p_value"] < 0.01
    (problem,) = doc["problems"]
    assert problem.startswith(f"m: p95 {b['latency_p95_ms']:.3f} ms is ") and \
        f"x base {base[:7]}'s " in problem and "slower in two measurements" in problem
    # the base measured now is in the ledger, with its samples in the report: the next run
    # finds it there instead of measuring it again, unless it was too noisy to serve as a base
    # (a loaded machine: then it is measured again, never reused)
    lines = ledger(repo, "bench")
    assert [e.get("role") for e in lines] == [None, "base"]
    assert lines[1]["source_commit"] == base
    code, doc, err = run_json(repo, "bench", "--all", "--base", base)
    assert code == 1
    assert ("is not in the ledger" in err) == bool(lines[1].get("noisy")), err


def test_a_benchmark_too_noisy_to_judge_is_said_and_never_cached(tmp_path: Path):
    repo = bench_repo(tmp_path / "r", SPIKY)
    code, doc, err = run_json(repo, "bench", "--all")
    schema("gate").validate(doc)
    (b,) = doc["modules"][0]["benchmarks"]
    assert code == 0 and b["verdict"] == "noisy" and b["noisy"] is True
    assert doc["modules"][0]["remeasured"] is True          # measured twice before saying so
    assert doc["summary"].endswith("(1 too noisy to judge)")
    assert any("is too noisy to judge" in note and "not cached" in note for note in doc["notes"])
    assert [e.get("noisy") for e in ledger(repo, "bench")] == [True]
    code, doc, err = run_json(repo, "bench", "--all")
    assert "(cached: " not in err and doc["modules"][0]["cached"] is False
    assert len(ledger(repo, "bench")) == 2


def test_verify_and_replay_documents_match_their_schemas(tmp_path: Path, gpg_key: str):
    repo = project(tmp_path / "repo", {"tests/test_x.py": "def test_x(testlog):\n"
                                                            "    testlog.output('v', 1)\n"})
    sha = record(repo, "tests")
    code, doc, err = run_json(repo, "replay", sha)
    schema("replay").validate(doc)
    assert code == doc["exit_status"] == 0 and doc["verdict"] == "VERIFIED"
    assert doc["commit"] == git(repo, "rev-parse", "testlog").strip()
    assert [t["test_name"] for t in doc["report"]["tests"]] == ["tests/test_x.py::test_x"]
    assert "REPLAY_VERIFIED" in err
    code, doc, _ = run_json(repo, "verify")
    schema("verify").validate(doc)
    assert code == 0 and doc["verdict"] == "pass" and doc["failures"] == []
    assert {c["check"]: c["checked"] for c in doc["checks"]}["chronicle events"] == 2
    signed = tmp_path / "signed"
    signed.mkdir()
    git(signed, "init", "-q")
    with open_store(signed, sign_key=False) as store:
        from datetime import date
        record_run(store, date(2025, 11, 1))
    code, doc, _ = run_json(signed, "verify", "--require-signed", "--trusted-keys",
                            str(export_armored(gpg_key, tmp_path)))
    schema("verify").validate(doc)
    assert code == 1 and doc["verdict"] == "fail" and doc["failures"]


def export_armored(fingerprint: str, tmp_path: Path) -> Path:
    target = tmp_path / "keys.asc"
    out = subprocess.run(["gpg", "--armor", "--export", fingerprint], capture_output=True,
                         check=True).stdout
    target.write_bytes(out)
    return target
