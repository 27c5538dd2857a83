"""The replay report's page, error log and terminal table, against golden files."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from testlog.core import render
from testlog.core.canonical import canonical_json
from testlog.core.hashing import describe_value, result_hash
from testlog.core.records import dumps_normal
from testlog.core.seeds import derive_seed
from testlog.replay.environment import compare_environments
from testlog.replay.judge import Replayed, judge
from testlog.replay.plan import build_plan
from testlog.replay.report import (
    ReplayMeta,
    commit_summary,
    error_entries,
    report_data,
    report_md,
    terminal_lines,
)

GOLDEN = Path(__file__).parent / "golden"
ENV = {"os": "Linux", "arch": "x86_64", "python_implementation": "CPython",
       "python_version": "3.11.7", "numpy_version": "2.4.6", "torch_version": "2.13.0+cpu"}


def record(name: str, order: int, status: str, outputs: dict, before=None, after=None) -> dict:
    values = {k: describe_value(v) for k, v in outputs.items()}
    return {"test_name": name, "order": order, "status": status, "seed": derive_seed(42, name),
            "rng_state": before or {"python": "b0"}, "rng_state_after": after or {"python": "a0"},
            "outputs": {"result_hash": result_hash(values), "values": values},
            "inputs": {"data/x.npy": {"kind": "file", "hash": "f" * 64}} if order == 2 else {},
            "duration_ms": 2.0, "determinism_check": "seeded", "worker": None}


RUN = {"suite": "unit", "base_seed": 42, "reseed": True, "pythonhashseed": "0",
       "session_states": {}, "started": "2025-11-01T17:00:00.000Z", "environment": ENV,
       "source": {"commit": "c" * 40, "tree": "t" * 40, "dirty": True},
       "pytest": {"args": ["tests"], "version": "9.2.0"}}
RECORDS = [record("tests/test_a.py::test_same", 0, "PASS", {"x": 0.5}),
           record("tests/test_a.py::test_drift", 1, "PASS", {"x": 0.5}),
           record("tests/test_a.py::test_hash", 2, "PASS", {"s": "abc"}),
           record("tests/test_a.py::test_status", 3, "PASS", {}),
           record("tests/test_a.py::test_rng", 4, "PASS", {})]
REPLAYED = {
    "tests/test_a.py::test_same": Replayed("PASS", {"python": "b0"}, {"python": "a0"},
                                           {"x": describe_value(0.5)}, duration_ms=2.2),
    "tests/test_a.py::test_drift": Replayed("PASS", {"python": "b0"}, {"python": "a0"},
                                            {"x": describe_value(0.5 + 2e-6)}, duration_ms=1.8),
    "tests/test_a.py::test_hash": Replayed("PASS", {"python": "b0"}, {"python": "a0"},
                                           {"s": describe_value("abd")}, duration_ms=2.0,
                                           inputs={"data/x.npy": {"kind": "file", "hash": "e" * 64}}),
    "tests/test_a.py::test_status": Replayed("FAIL", {"python": "b0"}, {"python": "a0"},
                                             duration_ms=3.0, failure="E   assert 1 == 2"),
    "tests/test_a.py::test_rng": Replayed("PASS", {"python": "b0"}, {"python": "zz"},
                                          duration_ms=2.5),
}
META = ReplayMeta(sha="d" * 40, label="dddddddddd", started="2025-11-02T09:00:00Z",
                  finished="2025-11-02T09:00:01Z", duration_s=1.25, python="/venv/bin/python",
                  pythonhashseed="0", materialized="commit", directory=None, selection=None,
                  not_selected=0)


@pytest.fixture
def data() -> dict:
    plan = build_plan(RUN, RECORDS, {})
    env = compare_environments(ENV, {**ENV, "numpy_version": "2.3.0"}, recorded_hashseed="0",
                               current_hashseed="0")
    judgements = [judge(t, REPLAYED[t.nodeid], same_platform=env.same_platform) for t in plan.tests]
    return report_data(plan, judgements, env, META)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("TESTLOG_REGEN_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text()


def test_report_page(data):
    check_golden("replay_report.md", report_md(data))


def test_report_error_log(data):
    inputs = {r["test_name"]: r["inputs"] for r in RECORDS if r["inputs"]}
    check_golden("replay_errors.log", render.errors_log(error_entries(data, inputs)))


def test_terminal_table(data):
    check_golden("replay_terminal.txt",
                 "\n".join(terminal_lines(data, "replays/20251102__unit__replay.md on refs/heads/testlog")) + "\n")


def test_report_data(data):
    assert data["verdict"] == "FAILED"
    assert data["counts"] == {"verified": 1, "verified-drift": 0, "minor": 1, "moderate": 1,
                              "critical": 2}
    assert data["audit_alerts"] == 4 and data["max_precision_delta"] == "2e-06"
    assert data["environment"]["same_platform"] is False
    assert commit_summary(data) == "REPLAY_FAILED unit 1 verified 4 flagged (run dddddddddd)"
    assert dumps_normal(data) == canonical_json(data)     # written without a normalising walk
