"""Truthful records (issue 15), the pure parts as tables: pytest's counts and the run's
verdict, partial-run names, hash-order probes, triage of captured output, attempts and hash
order, reports turned into outcomes, and runs recorded before schema 2 still read."""
from __future__ import annotations

import pytest
from _pytest.reports import TestReport

from testlog.core import counts, layout
from testlog.core.counts import closing_line, phase_category, pytest_counts, run_verdict
from testlog.core.measures import benchmark_statistics
from testlog.core.records import TestOutcome, is_flaky
from testlog.core.selection import base_suite, partial_suite, selection_of
from testlog.core.triage import CRITICAL, MODERATE, VERIFIED, Observation, triage
from testlog.plugin.reports import OutcomeBuilder, hash_sections
from testlog.replay import hashprobe
from testlog.replay.judge import Replayed
from testlog.replay.plan import build_plan, legacy_incomplete

P, F, S = "passed", "failed", "skipped"


@pytest.mark.parametrize("when, result, xfail, category", [
    ("call", P, False, "passed"), ("call", F, False, "failed"), ("call", S, False, "skipped"),
    ("call", S, True, "xfailed"), ("call", P, True, "xpassed"), ("call", F, True, "failed"),
    ("setup", F, False, "errors"), ("teardown", F, False, "errors"),
    ("setup", S, False, "skipped"), ("setup", S, True, "xfailed"), ("setup", P, False, None),
    ("teardown", P, False, None),
])
def test_phase_category_as_pytest_counts_it(when, result, xfail, category):
    assert phase_category(when, result, xfail) == category


def test_counts_are_of_reports_like_pytests_closing_line():
    both = TestOutcome("t::a", {"setup": (P, False), "call": (F, False), "teardown": (F, False)})
    subtests = TestOutcome("t::b", {"setup": (P, False), "call": (P, False),
                                    "teardown": (P, False)}, subtests={"passed": 2, "failed": 1})
    reran = TestOutcome("t::c", {"setup": (P, False), "call": (P, False),
                                 "teardown": (P, False)}, reruns=2,
                        attempts=[{"status": "FAIL"}, {"status": "FAIL"}])
    got = pytest_counts([both, subtests, reran], collection_errors=1, collection_skipped=1,
                        deselected=4)
    assert {k: v for k, v in got.items() if v} == {
        "failed": 2, "errors": 2, "passed": 2, "subtests_passed": 2, "rerun": 2, "skipped": 1,
        "deselected": 4}
    assert closing_line(got) == ("2 failed, 2 passed, 1 skipped, 4 deselected, 2 errors, "
                                 "2 subtests passed, 2 rerun")
    assert closing_line({**counts.empty_counts(), "errors": 1}) == "1 error"
    assert subtests.status == "FAIL" and reran.status == "PASS"
    assert is_flaky(reran) and not is_flaky(both)


def _verdict(**kw):
    base = {"not_run": 0, "collection_errors": 0, "interruption": None, "exit_status": 0,
            "stopped_by_maxfail": False}
    return run_verdict({"failed": kw.pop("failed", 0), "errors": 0}, **{**base, **kw})


@pytest.mark.parametrize("kw, verdict", [
    ({}, "PASS"),
    ({"failed": 1, "exit_status": 1}, "FAIL"),
    ({"failed": 1, "not_run": 5, "stopped_by_maxfail": True, "exit_status": 1}, "FAIL"),
    ({"not_run": 5}, "INTERRUPTED"),                  # stopped short by something else
    ({"interruption": {"kind": "keyboard-interrupt"}, "exit_status": 2}, "INTERRUPTED"),
    ({"interruption": {"kind": "exit"}, "exit_status": 2}, "INTERRUPTED"),
    ({"interruption": {"kind": "stopped"}, "exit_status": 2}, "INTERRUPTED"),
    ({"collection_errors": 1, "exit_status": 2}, "ERROR"),
    ({"interruption": {"kind": "internal-error"}, "exit_status": 3, "not_run": 9}, "ERROR"),
    ({"exit_status": 3}, "ERROR"),
])
def test_run_verdicts(kw, verdict):
    assert _verdict(**kw) == verdict


def test_partial_runs_carry_their_selection_in_the_suite_name():
    assert selection_of(keyword="", markexpr=None, args=["tests"], last_failed=False,
                        stepwise=False, deselect=[]) is None
    k = selection_of(keyword="a and not b", markexpr="", args=["tests"], last_failed=False,
                     stepwise=False, deselect=None)
    suite = partial_suite("tests", k)
    assert suite.startswith("tests~k-") and len(suite) == len("tests~k-") + 4
    assert layout.check_suite(suite) == suite and base_suite(suite) == "tests"
    assert partial_suite("tests", k) == suite                       # the same selection, the same name
    other = selection_of(keyword="a", markexpr="", args=[], last_failed=False, stepwise=False,
                         deselect=None)
    assert partial_suite("tests", other) != suite
    many = selection_of(keyword="", markexpr="slow", args=["t.py::x"], last_failed=True,
                        stepwise=True, deselect=["t.py::y"])
    assert many is not None and many.kinds() == ["m", "id", "lf", "sw", "desel"]
    assert many.text() == "-m slow t.py::x --lf --sw --deselect t.py::y"
    assert layout.check_suite(partial_suite("unit", many))
    with pytest.raises(ValueError):
        layout.check_suite("~k-1234")


def test_hash_probe_seeds_and_differences():
    a = hashprobe.replay_hashseed(7)
    assert a == hashprobe.replay_hashseed(7) and 0 <= int(a) < 2**32
    b = hashprobe.probe_hashseed(7, a)
    assert b != a and hashprobe.probe_hashseed(7, b) != b
    same = hashprobe.fingerprint(Replayed("PASS", after={"python": "x"}), "h")
    other = hashprobe.fingerprint(Replayed("FAIL", after={"python": "y"},
                                           output_digests={"call/stdout": "d"}), "h")
    assert hashprobe.differences(same, same) == ()
    assert hashprobe.differences(same, other) == ("status", "captured output", "RNG states")
    assert hashprobe.differences(same, None) == ()                  # not run by the probe
    assert hashprobe.unpinned(None) and hashprobe.unpinned("random") and not hashprobe.unpinned("0")


@pytest.mark.parametrize("obs, level, first_reason", [
    (Observation("PASS", "PASS", captured_differs=("call/stdout",)), MODERATE,
     "captured output differs: call stdout"),
    (Observation("PASS", "PASS", attempts=(("FAIL", "PASS"), ("PASS",))), MODERATE,
     "attempts FAIL, PASS → PASS"),
    (Observation("PASS", "PASS", attempts=(("FAIL", "PASS"), ("FAIL", "PASS"))), VERIFIED, None),
    # Hash order is named as the cause, not the RNG state or status it moved.
    (Observation("PASS", "FAIL", rng_mismatches=("python",), hash_order=("status", "RNG states"),
                 hash_seeds=("1", "2")), MODERATE, "hash order: status, RNG states differ(s) "
     "between PYTHONHASHSEED=1 and PYTHONHASHSEED=2; the run was recorded without "
     "PYTHONHASHSEED, so its set/dict iteration order cannot be replayed"),
    (Observation("PASS", "PASS", seed_corrupt=True, hash_order=("outputs",)), CRITICAL,
     "seed corruption: the seed no longer regenerates the recorded state"),
])
def test_triage_of_captured_output_attempts_and_hash_order(obs, level, first_reason):
    verdict = triage(obs)
    assert verdict.level == level
    assert (verdict.reasons[0] if verdict.reasons else None) == first_reason


HASH_ORDER = "hash order: RNG states differ(s) between PYTHONHASHSEED=1 and PYTHONHASHSEED=2; " \
    "the run was recorded without PYTHONHASHSEED, so its set/dict iteration order cannot be " \
    "replayed"


@pytest.mark.parametrize("obs, level, reasons", [
    # opt-einsum's set-order tests: the RNG state hash order moves is not named again
    (Observation("PASS", "PASS", rng_mismatches=("python",), hash_order=("RNG states",),
                 hash_seeds=("1", "2")), MODERATE, (HASH_ORDER,)),
    # what hash order does not move is named, and judged, as without it
    (Observation("PASS", "FAIL", rng_mismatches=("python",), hash_order=("RNG states",),
                 hash_seeds=("1", "2")), CRITICAL, (HASH_ORDER, "status PASS → FAIL")),
    (Observation("PASS", "PASS", rng_mismatches=("python",), hash_order=("RNG states",),
                 hash_seeds=("1", "2"), captured_differs=("call/stdout",)), MODERATE,
     (HASH_ORDER, "captured output differs: call stdout")),
])
def test_hash_order_names_only_what_it_does_not_explain(obs, level, reasons):
    verdict = triage(obs)
    assert (verdict.level, verdict.reasons) == (level, reasons)


def _report(nodeid, when, outcome, longrepr=None, sections=(), cls=TestReport, **extra):
    report = cls(nodeid, ("t.py", 0, nodeid), {}, outcome, longrepr, when, list(sections))
    report.__dict__.update(extra)
    return report


def test_reports_become_one_outcome_with_attempts_subtests_and_captured_digests():
    builder = OutcomeBuilder(hash_capture=True)
    out = ("Captured stdout call", "hello\n")
    reports = [
        _report("t::a", "setup", P), _report("t::a", "call", "rerun", "boom", [out]),
        _report("t::a", "teardown", P, sections=[out]),
        _report("t::a", "setup", P, sections=[out]), _report("t::a", "call", P, None, [out, out]),
        _report("t::a", "teardown", P, sections=[out, out]),
    ]
    done = [builder.add(r) for r in reports]
    assert done[:5] == [None] * 5
    outcome = done[5]
    assert outcome.status == "PASS" and outcome.reruns == 1 and is_flaky(outcome)
    assert [a["status"] for a in outcome.attempts] == ["FAIL"]
    assert outcome.failures[0].attempt == 1
    digests: dict[str, str] = {}
    hash_sections([out], 0, digests)
    # Each attempt hashes only its own sections (pytest keeps adding to the same list).
    assert outcome.captured == digests == outcome.attempts[0]["captured"]
    assert builder.open == {} and builder.warnings == []


def test_subtest_reports_and_unknown_shapes_never_crash():
    builder = OutcomeBuilder(hash_capture=False)

    class SubtestReport(TestReport):
        pass

    class Context:
        msg, kwargs = "num", {"i": "1"}

    builder.add(_report("t::s", "setup", P))
    builder.add(_report("t::s", "call", F, "bad", cls=SubtestReport, context=Context()))
    builder.add(_report("t::s", "call", P, cls=SubtestReport))            # no context: unknown
    builder.add(_report("t::s", "call", P))
    outcome = builder.add(_report("t::s", "teardown", P))
    assert outcome.status == "FAIL" and outcome.subtests == {"failed": 1, "passed": 1}
    assert outcome.failures[0].subtest == "[num] (i=1)"
    builder.add(_report("t::u", "setup", P))
    builder.add(_report("t::u", "call", "retried", "boom"))
    odd = builder.add(_report("t::u", "teardown", P))
    assert odd.status == "FAIL"
    assert len(builder.warnings) == 2


def test_runs_recorded_before_schema_2_still_read():
    run = {"schema_version": 1, "suite": "unit", "base_seed": 3, "exit_status": 3,
           "pytest": {"args": ["-q"], "version": "8"}}
    record = {"test_name": "t.py::a", "status": "PASS", "seed": 0, "order": 0,
              "outputs": {"result_hash": None, "values": {}}}
    plan = build_plan(run, [record], {})
    assert plan.capture == {} and not plan.hashed_output and plan.tests[0].output_digests is None
    assert plan.tests[0].attempts == () and plan.incomplete == legacy_incomplete(run)
    assert "INTERNALERROR" in (plan.incomplete or "")
    assert legacy_incomplete({"exit_status": 1}) is None
    assert legacy_incomplete({"exit_status": 2, "incomplete": None}) is None   # schema 2 said


def test_benchmark_statistics_of_per_round_seconds():
    stats = benchmark_statistics([0.004, 0.001, 0.002, 0.003, 0.010])
    assert stats == {"rounds": 5, "min_ms": 1.0, "median_ms": 3.0, "p95_ms": 8.8}
    assert benchmark_statistics([])["rounds"] == 0
