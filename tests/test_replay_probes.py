"""Nondeterminism probes: replay must FLAG each with the right severity, never verify it."""
from __future__ import annotations

import pytest

from tests.fixtures import git, user_state
from tests.replay_support import (
    forge_run,
    last_report,
    project,
    record,
    replay,
    sandboxed,
    tip,
    verdicts,
)

PROBES = '''\
import os
import random
import time
from pathlib import Path

VALUE_FILE = Path({value_file!r})
TINY_FILE = Path({tiny_file!r})


def test_stable(testlog):
    testlog.output("x", random.random())


def test_clock_seeded_global_rng(testlog):
    random.seed(time.time_ns())
    testlog.output("x", random.random())


def test_clock_seeded_local_rng(testlog):
    rng = random.Random(time.time_ns())
    testlog.output("draws", [rng.random() for _ in range(8)])


def test_urandom(testlog):
    testlog.output("token", os.urandom(16))


def test_set_order(testlog):
    testlog.output("order", list({{f"item-{{i}}" for i in range(50)}}))


def test_value_from_a_file(testlog):
    testlog.input(VALUE_FILE)
    testlog.output("value", float(VALUE_FILE.read_text()) * 3.0)


def test_tiny_drift(testlog):
    testlog.output("value", float(TINY_FILE.read_text()))
'''
LEAK = '''\
import random


def test_a_draws(testlog):
    testlog.output("a", random.random())


def test_b_draws_what_a_left(testlog):
    testlog.output("b", random.random())


def test_c_draws_nothing():
    assert True
'''


@pytest.fixture(scope="module")
def replays(sandbox, tmp_path_factory):
    """Record the probes (PYTHONHASHSEED unset, OS entropy not captured) and the leak file twice (reseeding on, then
    off); move the value file by 1e-6/3 and the tiny one by 1e-10; replay both runs, and the
    probes again as if recorded on another platform. {name: (exit, out, report)}."""
    base = tmp_path_factory.mktemp("probes")
    value_file, tiny_file = base / "value.txt", base / "tiny.txt"
    value_file.write_text("0.5\n")
    tiny_file.write_text("0.5\n")
    results = {}
    with sandboxed(sandbox, base / "tmp"):
        source = PROBES.format(value_file=str(value_file), tiny_file=str(tiny_file))
        repo = project(base / "repo", {"tests/test_probes.py": source, "tests/test_leak.py": LEAK})
        # OS entropy is recorded and fed back by default (tests/test_entropy_runs.py): these
        # probes record without it, so that os.urandom stays a draw the replay must flag.
        probes = record(repo, "tests", "--testlog-no-entropy", hashseed=None)
        leak = record(repo, "tests/test_leak.py", "--testlog-no-reseed")
        other = forge_run(repo, probes, lambda data: data["run"]["environment"].update(
            numpy_version="1.0.0"))
        value_file.write_text(f"{0.5 + 1e-6 / 3!r}\n")
        tiny_file.write_text(f"{0.5 + 1e-10!r}\n")
        before = user_state(repo)
        for name, sha in (("probes", probes), ("leak", leak), ("other", other)):
            code, out, err = replay(repo, sha)
            assert err == "", err
            results[name] = (code, out, last_report(repo))
            results[f"{name} commit"] = tip(repo)
        results["state"] = (before, user_state(repo))
        results["repo"] = repo
    return results


def test_every_probe_is_flagged_with_its_severity(replays):
    code, out, report = replays["probes"]
    assert code == 1 and report["verdict"] == "FAILED"
    assert report["event"]["event"] == "REPLAY_FAILED"
    assert verdicts(report) == {
        "test_stable": "verified",
        "test_clock_seeded_global_rng": "critical",      # the global RNG's state moved elsewhere
        "test_clock_seeded_local_rng": "moderate",       # another result, not a drift
        "test_urandom": "moderate",
        "test_set_order": "moderate",
        "test_value_from_a_file": "minor",               # 1e-6 away from the record
        "test_tiny_drift": "minor",                      # 1e-10, but bit-identity is demanded
        "test_a_draws": "verified", "test_b_draws_what_a_left": "verified",   # reseeded: no leak
        "test_c_draws_nothing": "verified",
    }
    assert report["audit_alerts"] == 5
    assert report["max_precision_delta"] == "1e-06"
    by_name = {t["test_name"].split("::")[1]: t for t in report["tests"]}
    assert by_name["test_clock_seeded_global_rng"]["rng_after_mismatch"] == ["python"]
    assert "input changed: " + str(replays["repo"].parent / "value.txt") in \
        by_name["test_value_from_a_file"]["reasons"]
    assert any("PYTHONHASHSEED was not set" in n for n in report["environment"]["notes"])
    assert "REPLAY_FAILED: 4 of 10 tests verified" in out
    assert "🚫 critical  tests/test_probes.py::test_clock_seeded_global_rng" in out


def test_error_log_entries_are_committed_with_the_report(replays):
    repo = replays["repo"]
    _code, _out, report = replays["probes"]
    suite_day = report["event"]["artifact"].split("/")[1].rsplit("__", 1)[0]
    log = git(repo, "show", f"{replays['probes commit']}:errors/{suite_day}__replayerrors.log")
    assert "ERROR: NumericDrift" in log and "Expected Δ ≤ 1e-08, got 1e-06" in log
    assert "Severity: 🚫 critical" in log and "ERROR: RNGStateMismatch" in log
    assert f"Command: git testlog replay {report['run']['sha'][:10]} -k test_urandom" in log
    assert "Fixture: " in log


def test_on_another_platform_numeric_outputs_get_the_tolerance(replays):
    code, out, report = replays["other"]
    assert code == 1 and report["environment"]["same_platform"] is False
    assert "platform differs (NumPy 1.0.0 →" in report["environment"]["headline"]
    assert out.startswith("replay of") and "platform differs (NumPy 1.0.0 →" in out.splitlines()[0]
    found = verdicts(report)
    assert found["test_tiny_drift"] == "verified-drift"           # 1e-10 ≤ 1e-8: verified, noted
    assert found["test_value_from_a_file"] == "minor"            # 1e-6 > 1e-8: audit alert
    tiny = [t for t in report["tests"] if t["test_name"].endswith("test_tiny_drift")][0]
    assert tiny["audit_alert"] is False and tiny["max_delta"] == "1e-10"


def test_rng_leak_is_flagged_when_reseeding_is_off(replays):
    code, _out, report = replays["leak"]
    assert code == 1
    assert report["run"]["reseed"] is False
    assert verdicts(report) == {"test_a_draws": "verified", "test_b_draws_what_a_left": "critical",
                                "test_c_draws_nothing": "verified"}
    leaked = [t for t in report["tests"] if t["verdict"] == "critical"][0]
    assert leaked["rng_leaks"] == ["python"] and leaked["outputs"] == []   # restored: same value
    assert leaked["reasons"] == ["RNG state leaked in from an earlier test (reseeding off): python"]


def test_user_state_unchanged_by_the_replays(replays):
    before, after = replays["state"]
    assert before == after
