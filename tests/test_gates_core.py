"""The pure core of the gates, with literal tables: manifests, lanes, affected modules, pre-push
input, gate lines, percentiles, the environment fingerprint, coverage totals and the ledger."""
from __future__ import annotations

import json

import pytest

from testlog.core import layout
from testlog.core.gates import (
    CoverageResult,
    LatencyResult,
    coverage_problems,
    coverage_summary,
    coverage_violation,
    slo_summary,
    slo_violation,
)
from testlog.core.ledger import cached_entries, ledger_line, parse_ledger
from testlog.core.manifest import parse_manifest, with_observed_coverage, with_observed_latency
from testlog.core.measures import (
    benchmark_samples,
    coverage_percent,
    env_fingerprint,
    latency_percentiles,
)
from testlog.core.modules import affected_modules, module_roots, nested_roots, owning_module
from testlog.core.prepush import (
    DELETE,
    LOG_BRANCH,
    NEW,
    UPDATE,
    PushedRef,
    classify,
    parse_push_lines,
)
from testlog.errors import TestlogError

A, B, Z = "a" * 40, "b" * 40, "0" * 40


@pytest.mark.parametrize("text, lane, target, sla", [
    ('{"module": "m"}', "L2", 80.0, None),
    ('{"module": "m", "tags": ["core", "lane:L0"]}', "L0", 70.0, None),
    ('{"tags": ["lane:L1"]}', "L1", 75.0, None),
    ('{"tags": ["lane:L3"]}', "L3", 85.0, None),
    ('{"tags": ["lane:L4"]}', "L4", 90.0, None),
    ('{"tags": ["lane:L5"]}', "L5", 90.0, None),
    ('{"tags": ["lane:L2"], "testing": {"coverage_target": 85}}', "L2", 85.0, None),
    ('{"tags": ["lane:L4"], "testing": {"coverage_target": 0}}', "L4", 0.0, None),
    ('{"testing": {"coverage_target": 100.0}}', "L2", 100.0, None),
    ('{"performance": {"sla_targets": {"latency_p95_ms": 2.5}}}', "L2", 80.0, 2.5),
])
def test_manifest_lane_target_and_sla(text, lane, target, sla):
    manifest = parse_manifest(text, "pkg/mod")
    assert (manifest.lane, manifest.coverage_target, manifest.latency_p95_ms) == (lane, target, sla)


def test_manifest_name_defaults_to_the_folder():
    assert parse_manifest('{"module": "consciousness"}', "x").name == "consciousness"
    assert parse_manifest("{}", "pkg/memory").name == "memory"


@pytest.mark.parametrize("text, field", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
    ('{"tags": ["lane:L9"]}', "tags has unknown lane 'L9'"),
    ('{"tags": ["lane:L1", "lane:L2"]}', "tags has 2 lane tags"),
    ('{"tags": "lane:L2"}', "tags must be a list"),
    ('{"testing": {"coverage_target": 120}}', "testing.coverage_target is 120"),
    ('{"testing": {"coverage_target": -1}}', "testing.coverage_target is -1"),
    ('{"testing": {"coverage_target": "80"}}', "testing.coverage_target is '80'"),
    ('{"testing": {"coverage_target": true}}', "testing.coverage_target is True"),
    ('{"testing": [80]}', "testing must be an object"),
    ('{"performance": {"sla_targets": {"latency_p95_ms": 0}}}',
     "performance.sla_targets.latency_p95_ms is 0"),
    ('{"performance": {"sla_targets": 5}}', "performance.sla_targets must be an object"),
    ('{"module": ""}', "module must be a non-empty string"),
])
def test_bad_manifest_names_the_file_and_the_field(text, field):
    with pytest.raises(TestlogError) as info:
        parse_manifest(text, "services/billing")
    message = str(info.value)
    assert message.startswith("services/billing/module.manifest.json: ")
    assert field in message
    assert "\n" not in message


def test_observed_values_are_written_into_a_copy_keeping_other_fields():
    raw = {"module": "m", "testing": {"coverage_target": 70}, "performance": {"sla_targets": {"x": 1}}}
    cov = with_observed_coverage(raw, 41.5, "2025-11-01T00:00:00Z")
    assert cov["testing"] == {"coverage_target": 70, "coverage_observed": 41.5,
                              "observed_at": "2025-11-01T00:00:00Z"}
    lat = with_observed_latency(raw, {"latency_p95_ms": 2.0})
    assert lat["performance"] == {"sla_targets": {"x": 1}, "observed": {"latency_p95_ms": 2.0}}
    assert raw["testing"] == {"coverage_target": 70}


ROOTS = ["", "alpha", "alpha/beta", "alpha/beta/gamma", "delta", "services/billing"]


@pytest.mark.parametrize("path, owner", [
    ("alpha/x.py", "alpha"),
    ("alpha/beta/x.py", "alpha/beta"),
    ("alpha/beta/gamma/deep/x.py", "alpha/beta/gamma"),
    ("alpha/betamax/x.py", "alpha"),           # a prefix of a folder name is not that folder
    ("delta/module.manifest.json", "delta"),
    ("services/billing/tests/test_a.py", "services/billing"),
    ("services/other.py", ""),                 # services/ is no module: the root module owns it
    ("setup.cfg", ""),
])
def test_deepest_enclosing_module_owns_a_path(path, owner):
    assert owning_module(path, set(ROOTS)) == owner


def test_affected_modules_without_a_root_module_ignore_outside_files():
    roots = ["alpha", "alpha/beta", "delta"]
    changed = ["README.md", "alpha/beta/b.py", "alpha/a.py", "alpha/beta/c.py", "docs/x.md"]
    assert affected_modules(changed, roots) == ["alpha", "alpha/beta"]
    assert affected_modules([], roots) == []
    assert affected_modules(["gone/module.manifest.json"], roots) == []


def test_module_roots_and_nested_roots():
    files = ["module.manifest.json", "a/module.manifest.json", "a/b/module.manifest.json",
             "a/b/x.py", "c/module.manifest.json.bak", "d/my-module.manifest.json"]
    assert module_roots(files) == ["", "a", "a/b"]
    assert nested_roots("a", ["", "a", "a/b", "ab"]) == ["a/b"]
    assert nested_roots("", ["", "a", "a/b"]) == ["a", "a/b"]


@pytest.mark.parametrize("stdin, expected", [
    ("", []),
    ("\n", []),
    (f"refs/heads/main {A} refs/heads/main {B}\n",
     [(PushedRef("refs/heads/main", A, "refs/heads/main", B), UPDATE)]),
    # several refs in one push: every one is checked
    (f"refs/heads/main {A} refs/heads/main {B}\nrefs/heads/topic {B} refs/heads/topic {Z}\n"
     f"(delete) {Z} refs/heads/old {A}\nrefs/heads/testlog {A} refs/heads/testlog {B}\n",
     [(PushedRef("refs/heads/main", A, "refs/heads/main", B), UPDATE),
      (PushedRef("refs/heads/topic", B, "refs/heads/topic", Z), NEW),
      (PushedRef("(delete)", Z, "refs/heads/old", A), DELETE),
      (PushedRef("refs/heads/testlog", A, "refs/heads/testlog", B), LOG_BRANCH)]),
    # the log branch pushed under another local name, or as a new branch
    (f"refs/heads/mine {A} refs/heads/testlog {Z}\n",
     [(PushedRef("refs/heads/mine", A, "refs/heads/testlog", Z), LOG_BRANCH)]),
    # SHA-256 repositories send 64-digit ids
    (f"refs/heads/main {'c' * 64} refs/heads/main {'0' * 64}\n",
     [(PushedRef("refs/heads/main", "c" * 64, "refs/heads/main", "0" * 64), NEW)]),
    (f"HEAD {A} refs/tags/v1 {Z}\n", [(PushedRef("HEAD", A, "refs/tags/v1", Z), NEW)]),
])
def test_pre_push_lines_parse_and_classify(stdin, expected):
    refs = parse_push_lines(stdin)
    assert [(r, classify(r, "testlog")) for r in refs] == expected


def test_a_custom_log_branch_is_recognised_by_full_or_short_name():
    ref = PushedRef("refs/heads/audit-log", A, "refs/heads/audit-log", B)
    assert classify(ref, "audit-log") == LOG_BRANCH
    assert classify(ref, "refs/heads/audit-log") == LOG_BRANCH
    assert classify(ref, "testlog") == UPDATE


@pytest.mark.parametrize("line", [
    "refs/heads/main", f"refs/heads/main {A} refs/heads/main", f"refs/heads/main xyz refs/heads/main {B}",
    f"refs/heads/main {A[:39]} refs/heads/main {B}", f"a {A} b {B} extra",
])
def test_malformed_pre_push_line_names_its_number(line):
    with pytest.raises(TestlogError, match="pre-push input line 2 is not"):
        parse_push_lines(f"refs/heads/x {A} refs/heads/x {B}\n{line}\n")


@pytest.mark.parametrize("result, line", [
    (CoverageResult("consciousness", "L2", 80.0, 4.12, "passed"),
     "consciousness: 4.12% < target 80% (lane L2)"),
    (CoverageResult("memory", "L1", 75.0, 18.5, "passed"), "memory: 18.50% < target 75% (lane L1)"),
    (CoverageResult("m", "L3", 82.5, 0.0, "no-tests"), "m: 0.00% < target 82.5% (lane L3)"),
    (CoverageResult("m", "L2", 80.0, 80.0, "passed"), None),
    (CoverageResult("m", "L2", 80.0, 99.99, "passed"), None),
    (CoverageResult("m", "L0", 70.0, None, "no-tests-dir"), None),
])
def test_coverage_violation_lines(result, line):
    assert coverage_violation(result) == line


def test_problems_and_summary_include_test_failures_in_module_order():
    results = [CoverageResult("zeta", "L2", 80.0, 90.0, "failed"),
               CoverageResult("alpha", "L2", 80.0, 10.0, "passed"),
               CoverageResult("gov", "L0", 70.0, None, "no-tests-dir"),
               CoverageResult("err", "L2", 80.0, None, "error")]
    problems = coverage_problems(results)
    assert problems == ["alpha: 10.00% < target 80% (lane L2)",
                        "err: pytest could not run the tests", "zeta: tests failed"]
    assert coverage_summary(results, problems) == \
        "Coverage gate failed (3 problems): 2 modules checked, 2 skipped"
    ok = [CoverageResult("a", "L2", 80.0, 85.0, "passed")]
    assert coverage_summary(ok, coverage_problems(ok)) == "Coverage gate passed: 1 module checked"


def test_slo_violation_lines_and_summary():
    slow = LatencyResult("identity", "test_token", 2.456, 2.0)
    fast = LatencyResult("identity", "test_other", 1.0, 2.0)
    free = LatencyResult("memory", "test_x", 100.0, None)
    assert slo_violation(slow) == "identity: p95 2.46 ms > SLA 2 ms (test_token)"
    assert slo_violation(fast) is None and slo_violation(free) is None
    assert slo_summary([slow, fast, free], ["x"]) == "SLO gate failed (1 violation): 3 benchmarks in 2 modules"


def test_latency_percentiles_are_numpys_of_the_per_round_samples_in_ms():
    samples = [i / 1000.0 for i in range(100, 0, -1)]      # 100 ms .. 1 ms, any order
    assert latency_percentiles(samples) == {"latency_p50_ms": 50.5, "latency_p95_ms": 95.05,
                                            "latency_p99_ms": 99.01}
    assert latency_percentiles([0.002]) == {"latency_p50_ms": 2.0, "latency_p95_ms": 2.0,
                                            "latency_p99_ms": 2.0}


def test_benchmark_samples_need_per_round_data():
    report = {"benchmarks": [{"name": "test_a", "fullname": "m/tests/benchmarks/t.py::test_a",
                              "stats": {"data": [0.001, 0.002]}}]}
    assert benchmark_samples(report, "x") == {"m/tests/benchmarks/t.py::test_a": [0.001, 0.002]}
    with pytest.raises(TestlogError, match="benchmark 'test_b' has no per-round data"):
        benchmark_samples({"benchmarks": [{"name": "test_b", "stats": {}}]}, "x")


@pytest.mark.parametrize("python, os_name, arch, cpu, fingerprint", [
    ("3.11.7", "Linux", "x86_64", "Intel(R) Xeon(R) CPU", "64eb5975a2476233"),
])
def test_env_fingerprint_is_the_first_16_hex_of_sha256(python, os_name, arch, cpu, fingerprint):
    assert env_fingerprint(python, os_name, arch, cpu) == fingerprint
    assert env_fingerprint("3.12.1", os_name, arch, cpu) != fingerprint


def _file(covered: int, statements: int, branches: tuple[int, int] | None = None) -> dict:
    summary = {"covered_lines": covered, "num_statements": statements}
    if branches:
        summary.update(covered_branches=branches[0], num_branches=branches[1])
    return {"summary": summary}


@pytest.mark.parametrize("files, root, excluded, percent", [
    ({"m/a.py": _file(1, 3), "m/tests/test_a.py": _file(9, 9)}, "m", ["m/tests"], 33.33),
    ({"m/a.py": _file(2, 3), "m/sub/b.py": _file(0, 7)}, "m", ["m/tests", "m/sub"], 66.67),
    ({"m/a.py": _file(2, 3), "m/sub/b.py": _file(0, 7)}, "m", [], 20.0),
    ({"m/a.py": _file(3, 4, (1, 4))}, "m", [], 50.0),     # (3 + 1) / (4 + 4), as coverage.py
    ({"m/__init__.py": _file(0, 0)}, "m", [], 100.0),     # nothing to measure: 100, as coverage.py
    ({"other/a.py": _file(0, 5), "m/a.py": _file(5, 5)}, "m", [], 100.0),
    ({"a.py": _file(1, 2), "pkg/b.py": _file(0, 2)}, "", ["pkg"], 50.0),
])
def test_coverage_percent_counts_the_module_alone(files, root, excluded, percent):
    assert coverage_percent({"files": files}, root, excluded) == percent


def test_ledger_lines_round_trip_and_bad_lines_are_named():
    line = ledger_line({"module": "m", "coverage": 4.123456789})
    assert json.loads(line) == {"module": "m", "coverage": 4.123457, "schema_version": "1"}
    assert parse_ledger(line + b"\n" + line, "ledger/coverage.ndjson")[1]["module"] == "m"
    with pytest.raises(TestlogError, match="ledger/coverage.ndjson line 2 is not a JSON object"):
        parse_ledger(line + b"[1]\n", "ledger/coverage.ndjson")
    with pytest.raises(TestlogError, match=r"line 1 has schema version 9, newer than this git-testlog understands \(1\)"):
        parse_ledger(b'{"schema_version": "9"}\n', "ledger/coverage.ndjson")


def test_cache_takes_the_latest_clean_run_at_the_same_tree_and_environment():
    def entry(run, tree="t1", env="e1", dirty=False, coverage=1.0, path="m"):
        return {"run": run, "path": path, "tree": tree, "env_fingerprint": env, "dirty": dirty,
                "coverage": coverage}
    entries = [entry("r1", coverage=1.0), entry("r2", coverage=2.0), entry("r3", dirty=True),
               entry("r4", env="e2"), entry("r5", tree="t2"), entry("r6", path="n")]
    assert [e["coverage"] for e in cached_entries(entries, "m", "t1", "e1")] == [2.0]
    assert cached_entries(entries, "m", "t1", "e3") == []
    assert cached_entries(entries, "m", None, "e1") == []
    bench = [entry("b1", coverage=1.0), entry("b1", coverage=3.0)]
    assert len(cached_entries(bench, "m", "t1", "e1")) == 2


def test_measurement_paths_follow_the_artifact_naming_in_a_folder_per_day():
    from datetime import date
    path = layout.measurement_path("coverage", date(2025, 11, 1), "cov-1a2b3c4d5e6f")
    assert path == "measurements/2025-11/01/20251101__cov-1a2b3c4d5e6f__coverage.json"
    first_form = "measurements/20251101__cov-1a2b3c4d5e6f__coverage.json"
    assert layout.parse_artifact(first_form)["category"] == "coverage"
    for read in (path, first_form):
        assert layout.parse_measurement(read) == {"run": "cov-1a2b3c4d5e6f",
                                                  "category": "coverage"}
    for hostile in ("measurements/2025-11/01/../20251101__cov-1a2b3c4d5e6f__coverage.json",
                    "measurements/2025-11/20251101__cov-1a2b3c4d5e6f__coverage.json",
                    "measurements/2025-11/01/x/20251101__cov-1a2b3c4d5e6f__coverage.json",
                    "/measurements/2025-11/01/20251101__cov-1a2b3c4d5e6f__coverage.json"):
        assert layout.parse_measurement(hostile) is None, hostile
    with pytest.raises(ValueError):
        layout.measurement_path("timing", date(2025, 11, 1), "x")


def test_a_ledger_is_one_file_per_day_and_only_that_shape_is_read():
    from datetime import date
    assert layout.ledger_path("coverage", date(2025, 11, 1)) == "ledger/coverage/2025-11/01.ndjson"
    assert layout.ledger_path("bench", date(2026, 1, 31)) == "ledger/bench/2026-01/31.ndjson"
    assert layout.is_ledger_file("coverage", "ledger/coverage/2025-11/01.ndjson")
    for kind, path in [("bench", "ledger/coverage/2025-11/01.ndjson"),
                       ("coverage", "ledger/coverage.ndjson"),
                       ("coverage", "ledger/coverage/2025-11/01.ndjson/x"),
                       ("coverage", "ledger/coverage/2025-11/../01.ndjson"),
                       ("coverage", "ledger/coverage/2025-11/1.ndjson"),
                       ("coverage", "ledger/coverage/2025-11/01.json")]:
        assert not layout.is_ledger_file(kind, path), path
    with pytest.raises(ValueError):
        layout.ledger_path("timing", date(2025, 11, 1))


def test_interpreter_candidates_skip_a_pre_commit_hook_environment(monkeypatch):
    import sys

    from testlog.config import Setting
    from testlog.gates.pythonpath import candidates
    monkeypatch.setenv("VIRTUAL_ENV", "/venvs/project")
    monkeypatch.delenv("PRE_COMMIT", raising=False)
    assert candidates("/repo", Setting(None, "default")) == [
        ("/venvs/project/bin/python", "$VIRTUAL_ENV"), ("/repo/.venv/bin/python", ".venv"),
        (sys.executable, "the interpreter running git-testlog")]
    assert candidates("/repo", Setting("tools/py", "setup.cfg [testlog]")) == [
        ("/repo/tools/py", "python in setup.cfg [testlog]")]
    monkeypatch.setenv("PRE_COMMIT", "1")            # language: system: our own venv is the project's
    assert len(candidates("/repo", Setting(None, "default"))) == 3
    hook_env = "/home/u/.cache/pre-commit/repoabc/py_env-python3.11"
    monkeypatch.setattr(sys, "prefix", hook_env)      # language: python: an isolated hook venv
    monkeypatch.setenv("VIRTUAL_ENV", hook_env)
    assert candidates("/repo", Setting(None, "default")) == [("/repo/.venv/bin/python", ".venv")]
