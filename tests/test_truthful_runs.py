"""Truthful records (issue 15), end to end: real pytest runs (pytester subprocesses) in real
git repositories, read back from the log branch with plain git, and real replays.

Subtests and re-runs are recorded as pytest counts them; runs that stopped early say so and
count what never ran; partial runs are named apart; what a test printed is hashed and
compared; hash order never passes by luck; error entries triage honestly and their
reproduction command commits nothing; pytest-benchmark's statistics land in the record.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from testlog.store import runs
from tests.fixtures import git, make_repo
from tests.recorder_helpers import event_at, git_bytes, run_data
from tests.replay_support import last_report, replay, verdicts
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

BASE = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q", "--testlog", "--testlog-no-sign")


# -- helpers -------------------------------------------------------------------------------

def project(pytester: pytest.Pytester, files: dict[str, str]) -> Path:
    """pytester's directory as a git repository with `files` committed."""
    return make_repo(pytester.path, files)


def record(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest_subprocess(*BASE, *args)
    assert "testlog:" in result.stdout.str(), result.stdout.str() + result.stderr.str()
    return result


def runs_on_branch(repo: Path, rev: str = "testlog") -> list[str]:
    return [p for p in git(repo, "ls-tree", "-r", "--name-only", rev).split()
            if p.endswith("__run.jsonl")]


def run_at(repo: Path, rev: str = "testlog") -> dict[str, Any]:
    """The run committed at `rev` (the artifact of its event), its records rebuilt as
    `git testlog show --records` prints them."""
    return run_data(repo, rev)


def sibling(repo: Path, category: str, ext: str, rev: str = "testlog") -> str:
    event = event_at(repo, rev)
    stem = event["artifact"].split("/", 1)[1].rsplit("__", 1)[0]
    folder = {"errors": "errors", "summary": "summaries"}[category]
    return git(repo, "show", f"{rev}:{folder}/{stem}__{category}.{ext}")


def by_name(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["test_name"].split("::", 1)[1]: r for r in run["records"]}


_WORDS = {"failed": "failed", "passed": "passed", "skipped": "skipped", "deselected": "deselected",
          "xfailed": "xfailed", "xpassed": "xpassed", "error": "errors", "errors": "errors",
          "subtests passed": "subtests_passed", "subtests skipped": "subtests_skipped",
          "rerun": "rerun"}


def closing_counts(output: str) -> dict[str, int]:
    """pytest's closing line (`3 failed, 3 passed, 6 subtests passed in 0.1s`) as our keys."""
    line = next(line for line in reversed(output.splitlines())
                if re.search(r"\d+ (passed|failed|errors?|skipped|rerun).* in [\d.]+s", line))
    counts = {}
    for number, word in re.findall(r"(\d+) ([a-z ]+?)(?=,| in )", line.strip("= ")):
        counts[_WORDS[word.strip()]] = int(number)
    return counts


def assert_counts_match_pytest(totals: dict[str, Any], output: str) -> None:
    said = closing_counts(output)
    for key in ("failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "errors",
                "subtests_passed", "rerun"):
        assert totals[key] == said.get(key, 0), (key, totals, said)


# -- subtests --------------------------------------------------------------------------------

SUBTESTS = {"test_sub.py": '''\
import unittest


def test_native(subtests):
    for i in range(3):
        with subtests.test("num", i=i):
            assert i != 1


def test_native_all_pass(subtests):
    for i in range(2):
        with subtests.test(i=i):
            assert True


class Case(unittest.TestCase):
    def test_sub(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertNotEqual(i, 2)


def test_plain():
    pass
'''}


def test_failing_subtests_are_in_the_record_the_errors_log_and_the_summary(pytester):
    repo = project(pytester, SUBTESTS)
    result = record(pytester)
    assert result.ret == 1
    run = run_at(repo)
    records = by_name(run)
    # A failing subtest fails its test, also where pytest (unittest's subTest) says "passed".
    assert {n: r["status"] for n, r in records.items()} == {
        "test_native": "FAIL", "test_native_all_pass": "PASS", "Case::test_sub": "FAIL",
        "test_plain": "PASS"}
    assert records["test_native"]["subtests"] == {
        "passed": 2, "failed": 1, "skipped": 0, "xfailed": 0,
        "failing": [{"subtest": "[num] (i=1)", "message": "assert 1 != 1"}]}
    assert records["Case::test_sub"]["subtests"]["failing"] == [
        {"subtest": "(i=2)", "message": "AssertionError: 2 == 2"}]
    assert "subtests" not in records["test_plain"]
    # Counts equal pytest's closing line (3 failed: two subtests and test_native itself).
    assert_counts_match_pytest(run["run"]["totals"], result.stdout.str())
    assert run["run"]["totals"]["failed"] == 3 and run["run"]["verdict"] == "FAIL"
    errors = json.loads(sibling(repo, "errors", "json"))["errors"]
    assert {(e["test_name"].split("::", 1)[1], e.get("subtest")) for e in errors} >= {
        ("test_native", "[num] (i=1)"), ("Case::test_sub", "(i=2)")}
    log = sibling(repo, "errors", "log")
    assert "  Subtest: [num] (i=1)" in log and "  Subtest: (i=2)" in log
    summary = sibling(repo, "summary", "md")
    assert "`test_sub.py::Case::test_sub` subtest (i=2)" in summary
    assert "| tests | 3 failed, 3 passed, 6 subtests passed |" in summary
    message = git(repo, "log", "-1", "--format=%s", "testlog").strip()
    assert message.endswith(" FAIL 3 passed 3 failed")


# -- re-runs -------------------------------------------------------------------------------

RERUNS = {"test_reruns.py": '''\
import itertools
import random

_calls = itertools.count()


def test_flaky():
    draw = random.random()
    print("draw", draw)
    assert next(_calls) >= 2


def test_always_fails():
    assert random.random() < 0


def test_fine():
    pass
'''}


def test_reruns_make_one_record_per_test_with_its_attempts_in_order(pytester):
    pytest.importorskip("pytest_rerunfailures")
    repo = project(pytester, RERUNS)
    result = record(pytester, "--reruns", "2")
    run = run_at(repo)
    records = by_name(run)
    assert sorted(records) == ["test_always_fails", "test_fine", "test_flaky"]
    flaky = records["test_flaky"]
    assert flaky["status"] == "PASS" and flaky["flaky"] is True
    assert [(a["attempt"], a["status"], a["when"]) for a in flaky["attempts"]] == [
        (1, "FAIL", "call"), (2, "FAIL", "call"), (3, "PASS", None)]
    # Each attempt starts from the test's own seed: the same draw, the same RNG after-state.
    assert len({json.dumps(a["rng_state_after"]) for a in flaky["attempts"]}) == 1
    assert len({json.dumps(a["captured"]) for a in flaky["attempts"]}) == 1
    always = records["test_always_fails"]
    assert always["status"] == "FAIL" and always["flaky"] is False
    assert [a["status"] for a in always["attempts"]] == ["FAIL"] * 3
    assert "attempts" not in records["test_fine"]
    assert_counts_match_pytest(run["run"]["totals"], result.stdout.str())
    assert run["run"]["totals"]["rerun"] == 4 and run["run"]["totals"]["flaky"] == 1
    errors = json.loads(sibling(repo, "errors", "json"))["errors"]
    assert sorted((e["test_name"].split("::")[1], e["attempt"], e["attempts"]) for e in errors) == [
        ("test_always_fails", 1, 3), ("test_always_fails", 2, 3), ("test_always_fails", 3, 3),
        ("test_flaky", 1, 3), ("test_flaky", 2, 3)]
    # The replay repeats the re-run options: the same attempts, verified.
    code, out, _err = replay(repo, "testlog")
    assert code == 0 and verdicts(last_report(repo)) == {
        "test_flaky": "verified", "test_always_fails": "verified", "test_fine": "verified"}, out


# -- plugins we do not know ------------------------------------------------------------------

UNKNOWN = {"conftest.py": '''\
import pytest


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if item.name == "test_odd" and report.when == "call" and report.failed:
        report.outcome = "retried"          # a plugin's own outcome word
    return report
''', "test_unknown.py": '''\
from _pytest.reports import TestReport


class SubTestReport(TestReport):
    """A subtest report of a shape testlog does not know: no context."""


def test_odd():
    assert False


def test_custom_subtest(request):
    report = SubTestReport(request.node.nodeid, request.node.location, {}, "failed", "boom",
                           "call")
    request.node.ihook.pytest_runtest_logreport(report=report)


def test_fine():
    pass
'''}


def test_reports_of_unknown_plugins_are_plain_outcomes_with_a_warning(pytester):
    repo = project(pytester, UNKNOWN)
    result = record(pytester)
    out = result.stdout.str()
    assert "INTERNALERROR" not in out and "Traceback" not in result.stderr.str()
    records = by_name(run_at(repo))
    assert records["test_odd"]["status"] == "FAIL"           # its report had a traceback
    assert records["test_custom_subtest"]["status"] == "FAIL"
    assert records["test_fine"]["status"] == "PASS"
    warnings = run_at(repo)["run"]["warnings"]
    assert len(warnings) == 2 and all(w.startswith("a ") for w in warnings)
    assert any("'retried'" in w for w in warnings) and any("subtest report" in w for w in warnings)
    assert any(line.startswith("| warning |") for line in sibling(repo, "summary", "md").splitlines())


# -- runs that did not finish --------------------------------------------------------------

STOPS = {"test_stops.py": '''\
import os
import signal
from pathlib import Path


def test_first():
    pass


def test_blocks():
    Path(os.environ["TESTLOG_TEST_MARKER"]).write_text("running")
    signal.pause()                     # until the SIGINT


def test_after_one():
    pass


def test_after_two():
    pass
'''}


def test_sigint_to_pytest_records_an_interrupted_run_with_the_tests_not_run(pytester, tmp_path):
    repo = project(pytester, STOPS)
    marker = tmp_path / "marker"
    env = {**os.environ, "TESTLOG_TEST_MARKER": str(marker)}
    env.pop("PYTEST_ADDOPTS", None)
    with open(tmp_path / "out.txt", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "pytest", *BASE], cwd=repo, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
        wait_until(marker.exists, "the test that blocks is running")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=120) == 2
    output = (tmp_path / "out.txt").read_text()
    run = run_at(repo)["run"]
    assert run["verdict"] == "INTERRUPTED", output
    assert run["interruption"] == {"kind": "keyboard-interrupt", "reason": "KeyboardInterrupt"}
    assert run["totals"]["not_run"] == 3 and run["totals"]["selected"] == 4
    assert run["unfinished"] == ["test_stops.py::test_blocks"]
    assert [r["test_name"] for r in run_at(repo)["records"]] == ["test_stops.py::test_first"]
    assert git(repo, "log", "-1", "--format=%s", "testlog").strip().endswith(
        " INTERRUPTED 1 passed 0 failed 3 not run")
    assert "interrupted (Ctrl-C); 3 of 4 selected tests never ran" in sibling(repo, "summary", "md")
    # The replay says so up front and judges what ran.
    code, out, _err = replay(repo, "testlog")
    assert code == 0
    lines = out.splitlines()
    assert "the recorded run was incomplete (INTERRUPTED)" in lines[1]
    assert "only the 1 tests it ran are replayed and judged" in lines[1]
    assert lines[-1].startswith("REPLAY_VERIFIED: 1 of 1 tests verified (the recorded run was "
                                "incomplete")


BREAKS = {"conftest.py": '''\
def pytest_runtest_logreport(report):
    if report.nodeid.endswith("test_breaks") and report.when == "call":
        raise RuntimeError("a plugin broke")
''', "test_breaks.py": '''\
def test_a():
    pass


def test_breaks():
    pass


def test_c():
    pass
'''}


def test_an_internal_error_is_an_error_run_with_the_tests_not_run(pytester):
    repo = project(pytester, BREAKS)
    result = record(pytester)
    assert result.ret == 3
    run = run_at(repo)["run"]
    assert run["verdict"] == "ERROR" and run["interruption"]["kind"] == "internal-error"
    assert "a plugin broke" in run["interruption"]["reason"]
    assert run["totals"]["not_run"] == 2 and run["totals"]["passed"] == 1
    assert run["incomplete"].startswith("INTERNALERROR: ")
    assert git(repo, "log", "-1", "--format=%s", "testlog").strip().endswith(
        " ERROR 1 passed 0 failed 2 not run")


def test_collection_errors_and_stops_by_maxfail(pytester):
    repo = project(pytester, {"test_ok.py": "def test_a():\n    assert False\n\n\n"
                                            "def test_b():\n    pass\n",
                              "test_broken.py": "import no_such_module\n"})
    result = record(pytester)
    assert result.ret == 2
    run = run_at(repo)["run"]
    assert run["verdict"] == "ERROR" and run["totals"]["errors"] == 1
    assert run["interruption"]["kind"] == "collection-errors"
    assert_counts_match_pytest(run["totals"], result.stdout.str())
    # -x stops after a failure: a FAIL (not an interruption), the rest counted as not run.
    record(pytester, "-x", "test_ok.py")
    run = run_at(repo)["run"]
    assert run["verdict"] == "FAIL" and run["stopped_by_maxfail"] is True
    assert run["totals"]["not_run"] == 1 and run["interruption"] is None


# -- partial runs --------------------------------------------------------------------------

PARTIAL = {"tests/test_some.py": "def test_one():\n    pass\n\n\ndef test_two():\n    pass\n\n\n"
                                 "def test_three():\n    pass\n"}


def test_partial_runs_are_named_apart_and_never_replace_the_full_run(pytester, capsys):
    repo = project(pytester, PARTIAL)
    record(pytester, "tests")
    full = [p for p in runs_on_branch(repo) if "~" not in p]
    assert len(full) == 1 and full[0].endswith("__tests__run.jsonl")
    full_bytes = git(repo, "show", f"testlog:{full[0]}")
    record(pytester, "tests", "-k", "one or two")
    record(pytester, "tests/test_some.py::test_three")
    record(pytester, "tests", "--deselect", "tests/test_some.py::test_one")
    names = runs_on_branch(repo)
    partial = sorted(p for p in names if "~" in p)
    assert len(partial) == 3, names
    assert any(re.search(r"__tests~k-[0-9a-f]{4}__run\.jsonl$", p) for p in partial)
    assert any(re.search(r"__test_some~id-[0-9a-f]{4}__run\.jsonl$", p) for p in partial)
    assert any(re.search(r"__tests~desel-[0-9a-f]{4}__run\.jsonl$", p) for p in partial)
    assert git(repo, "show", f"testlog:{full[0]}") == full_bytes       # the full run is intact
    k_path = next(p for p in partial if "~k-" in p)
    k_run = runs.run_data(git_bytes(repo, "show", f"testlog:{k_path}"), k_path, k_path)
    assert k_run["run"]["selection"]["keyword"] == "one or two"
    assert len(k_run["records"]) == 2 and k_run["run"]["totals"]["deselected"] == 1
    from testlog.cli import main
    capsys.readouterr()                        # pytester printed the runs' output
    assert main(["-C", str(repo), "log", "--runs"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("[-k 'one or two']" in line for line in lines), lines
    assert any("[tests/test_some.py::test_three]" in line for line in lines), lines
    assert sum("[" not in line for line in lines) == 1                 # the full run


# -- captured output -----------------------------------------------------------------------

PRINTS = {"test_prints.py": '''\
import logging
import sys


def test_prints_an_address():
    print(id(object()))


def test_prints_the_same():
    print("always this")
    print("and this", file=sys.stderr)
    logging.getLogger("app").warning("the same warning")


def test_prints_nothing():
    pass
'''}


def test_a_test_printing_an_address_is_flagged_moderate_on_replay(pytester):
    repo = project(pytester, PRINTS)
    record(pytester)
    records = by_name(run_at(repo))
    assert set(records["test_prints_the_same"]["outputs"]["captured"]) == {
        "call/stdout", "call/stderr", "call/log"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", d)
               for d in records["test_prints_the_same"]["outputs"]["captured"].values())
    assert "captured" not in records["test_prints_nothing"]["outputs"]
    text = git(repo, "show", f"testlog:{runs_on_branch(repo)[0]}")
    assert "always this" not in text and "the same warning" not in text   # never in clear
    assert run_at(repo)["run"]["capture"] == {"mode": "fd", "log": True, "hashed": True}
    code, out, _err = replay(repo, "testlog")
    assert code == 1
    report = last_report(repo)
    assert verdicts(report) == {"test_prints_an_address": "moderate",
                                "test_prints_the_same": "verified",
                                "test_prints_nothing": "verified"}
    flagged = next(t for t in report["tests"] if t["verdict"] == "moderate")
    assert flagged["reasons"] == ["captured output differs: call stdout"]


def test_no_capture_hash_and_capture_off_are_said_in_the_record(pytester):
    repo = project(pytester, PRINTS)
    record(pytester, "--testlog-no-capture-hash")
    run = run_at(repo)
    assert run["run"]["capture"]["hashed"] is False
    assert all("captured" not in r["outputs"] for r in run["records"])
    code, _out, _err = replay(repo, "testlog")
    assert code == 0                                     # nothing captured is compared
    record(pytester, "-s", "--testlog-no-capture-hash")
    assert run_at(repo)["run"]["capture"] == {"mode": "no", "log": True, "hashed": False}


# -- hash order ----------------------------------------------------------------------------

HASH_ORDER = {"test_order.py": '''\
import random


def test_set_order(testlog):
    testlog.output("order", list({f"item-{i}" for i in range(50)}))


def test_draws_by_set_order():
    for name in {f"key-{i}" for i in range(40)}:
        if name.endswith("7"):
            break
        random.random()


def test_stable(testlog):
    testlog.output("x", random.random())
'''}


def test_hash_order_gets_the_same_verdict_on_every_replay(pytester, monkeypatch):
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    repo = project(pytester, HASH_ORDER)
    # Base seed 2: the replay's two derived hash seeds (4095740080, 1293509346) put the first
    # "key-…7" at 19 and at 0, and order the 50 items differently (a random base seed could
    # pick two seeds that agree on a small set, and the test would not test what it says).
    record(pytester, "--testlog-seed=2")
    assert run_at(repo)["run"]["pythonhashseed"] is None
    run_sha = git(repo, "rev-parse", "testlog").strip()     # each replay commits on top
    seen = []
    for _ in range(5):
        code, out, _err = replay(repo, run_sha)
        assert code == 1, out
        report = last_report(repo)
        seen.append(verdicts(report))
        reasons = {t["test_name"].split("::")[1]: t["reasons"] for t in report["tests"]}
        assert reasons["test_set_order"][0].startswith("hash order: ")
        assert reasons["test_draws_by_set_order"][0].startswith("hash order: RNG states")
        assert not any("RNG state mismatch" in r for r in reasons["test_draws_by_set_order"][:1])
    assert all(v == seen[0] for v in seen)
    assert seen[0] == {"test_set_order": "moderate", "test_draws_by_set_order": "moderate",
                       "test_stable": "verified"}
    assert any("hash order checked" in n for n in report["environment"]["notes"])


# -- triage and reproduction ---------------------------------------------------------------

TRIAGE = {"pytest.ini": "[pytest]\ntestlog = true\n", "test_triage.py": '''\
import random

import pytest


def test_equality():
    assert 45 == 46


def test_threshold():
    # Always fails, naming a value drawn from the seeded RNG (the rerun must name the same).
    assert random.random() < 0.0


def test_approx():
    assert 0.31 == pytest.approx(0.3)
'''}


def test_triage_and_a_reproduction_command_that_replays_the_failure_and_commits_nothing(pytester):
    repo = project(pytester, TRIAGE)
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:cacheprovider", "-q",
                                           "--testlog-no-sign")
    assert "recorded as" in result.stdout.str()
    errors = {e["test_name"].split("::")[1]: e
              for e in json.loads(sibling(repo, "errors", "json"))["errors"]}
    assert (errors["test_equality"]["severity"], errors["test_equality"]["left_right"],
            errors["test_equality"]["expected_got"]) == ("moderate", "Left 45, right 46 (==)", None)
    assert errors["test_threshold"]["severity"] == "moderate"
    assert (errors["test_approx"]["severity"], errors["test_approx"]["expected_got"]) == (
        "minor", "Expected 0.3 ± 3.0e-07, got 0.31")
    command = errors["test_threshold"]["command"]
    assert command.startswith("python -m pytest test_triage.py::test_threshold --testlog-seed=")
    assert "-o testlog=false" in command and "--testlog " not in command + " "
    tip = git(repo, "rev-parse", "testlog").strip()
    words = shlex.split(command)
    words[0] = sys.executable
    rerun = subprocess.run(words, cwd=repo, capture_output=True, text=True,
                           env={k: v for k, v in os.environ.items() if k != "PYTEST_ADDOPTS"})
    assert rerun.returncode == 1, rerun.stdout
    # The same failing draw: the message names the same value.
    assert errors["test_threshold"]["message"] in rerun.stdout
    assert git(repo, "rev-parse", "testlog").strip() == tip                # nothing committed


# -- benchmarks ------------------------------------------------------------------------------

def test_benchmark_statistics_are_in_the_record(pytester):
    pytest.importorskip("pytest_benchmark")
    repo = project(pytester, {"test_bench.py": "def test_sum(benchmark):\n"
                                                "    benchmark(sum, range(100))\n\n\n"
                                                "def test_plain():\n    pass\n"})
    record(pytester, "--benchmark-min-rounds=5", "--benchmark-max-time=0.01",
           "--benchmark-disable-gc", "--benchmark-warmup=off")
    records = by_name(run_at(repo))
    stats = records["test_sum"]["benchmark"]
    assert stats["rounds"] >= 5 and stats["name"] == "test_sum"
    assert 0 < stats["min_ms"] <= stats["median_ms"] <= stats["p95_ms"]
    assert "benchmark" not in records["test_plain"]
