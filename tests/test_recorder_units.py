"""The recorder's pure parts, with literal tables: seeds, suite names, statuses, error lines,
timing aggregates, value descriptions, record signatures."""
from __future__ import annotations

import hashlib
import json
import math
import statistics

import pytest

from testlog.core import errorinfo, layout
from testlog.core.canonical import canonical_json, record_signature
from testlog.core.counts import pass_rate, run_verdict
from testlog.core.hashing import describe_value, result_hash
from testlog.core.records import TestOutcome, build_record, status_of
from testlog.core.runfiles import commit_summary, run_bundle
from testlog.core.seeds import derive_seed, parse_seed, session_seed
from testlog.core.suite import clean_suite, derive_suite
from testlog.core.timefmt import IsoClock
from testlog.core.timing_summary import empty_summary, parse_summary, updated_summary
from testlog.store import runs
from tests.recorder_helpers import unit_context, unit_harvest


def test_seed_depends_only_on_base_seed_and_nodeid():
    a = derive_seed(42, "tests/test_x.py::test_a")
    assert a == derive_seed(42, "tests/test_x.py::test_a")
    assert a == int.from_bytes(hashlib.sha256(b"42\0tests/test_x.py::test_a").digest()[:4], "big")
    assert a != derive_seed(43, "tests/test_x.py::test_a")
    assert a != derive_seed(42, "tests/test_x.py::test_b")
    assert 0 <= a < 2**32
    assert session_seed(42) == derive_seed(42, "")


@pytest.mark.parametrize("text, value", [("0", 0), ("42", 42), ("0x10", 16), ("4294967296", 2**32)])
def test_parse_seed(text, value):
    assert parse_seed(text) == value


@pytest.mark.parametrize("text", ["-1", "abc", "1.5", ""])
def test_parse_seed_rejects(text):
    with pytest.raises(ValueError, match="non-negative integer"):
        parse_seed(text)


@pytest.mark.parametrize("args, suite", [
    (["tests/unit"], "unit"),
    (["tests/unit/test_io.py"], "unit_test_io"),
    (["tests/unit/test_io.py::test_read"], "unit_test_io"),
    (["tests/unit", "tests/integration"], "tests"),
    (["tests"], "tests"),
    (["pkg/tests"], "pkg_tests"),
    ([], "myproj"),
    (["."], "myproj"),
])
def test_derive_suite(args, suite):
    assert derive_suite(args, "/work/myproj") == suite


@pytest.mark.parametrize("text, suite", [("my suite!", "my_suite"), ("a__b", "a_b"),
                                         ("__x", "x"), ("", "tests"), ("ünï", "n")])
def test_clean_suite(text, suite):
    assert clean_suite(text) == suite
    layout.check_suite(clean_suite(text))


P, F, S = "passed", "failed", "skipped"


@pytest.mark.parametrize("phases, status", [
    ({"setup": (P, False), "call": (P, False), "teardown": (P, False)}, "PASS"),
    ({"setup": (P, False), "call": (F, False), "teardown": (P, False)}, "FAIL"),
    ({"setup": (F, False), "teardown": (P, False)}, "ERROR"),
    ({"setup": (P, False), "call": (P, False), "teardown": (F, False)}, "ERROR"),
    ({"setup": (P, False), "call": (F, False), "teardown": (F, False)}, "FAIL"),
    ({"setup": (S, False), "teardown": (P, False)}, "SKIP"),
    ({"setup": (P, False), "call": (S, False), "teardown": (P, False)}, "SKIP"),
    ({"setup": (P, False), "call": (S, True), "teardown": (P, False)}, "XFAIL"),
    ({"setup": (S, True), "teardown": (P, False)}, "XFAIL"),
    ({"setup": (P, False), "call": (P, True), "teardown": (P, False)}, "XPASS"),
    ({"setup": (P, False)}, "ERROR"),
])
def test_status_of(phases, status):
    assert status_of(phases) == status


# Expected/got only where the comparison says which side is expected (pytest.approx, numpy's
# desired/actual); a plain `assert a == b` does not, so it is left/right (issue 15: the old
# "Expected 2, got 3" assumed `assert got == expected`).
@pytest.mark.parametrize("message, expected, left_right", [
    ("assert 3 == 2", None, "Left 3, right 2 (==)"),
    ("AssertionError: assert (1 + 1) == 3", None, "Left (1 + 1), right 3 (==)"),
    ("assert 2.1e-05 < 1e-06\n +  where 2.1e-05 = abs(x)", None, "Left 2.1e-05, right 1e-06 (<)"),
    ("assert 'a' in ['b']", None, "Left 'a', right ['b'] (in)"),
    ("assert 0.1 == 0.2 ± 2.0e-07", "Expected 0.2 ± 2.0e-07, got 0.1", None),
    ("assert 0.2 ± 2.0e-07 == 0.1", "Expected 0.2 ± 2.0e-07, got 0.1", None),
    ("assert 0.31 == 0.3 ± 3.0e-07\n  \n  comparison failed\n  Obtained: 0.31\n"
     "  Expected: 0.3 ± 3.0e-07", "Expected 0.3 ± 3.0e-07, got 0.31", None),
    ("AssertionError: \nNot equal to tolerance rtol=1e-07, atol=0\n\n ACTUAL: array(0.3)\n"
     " DESIRED: array(0.2)", "Expected array(0.2), got array(0.3)", None),
    ("AssertionError: 45 != 46", None, "Left 45, right 46 (==)"),
    ("AssertionError: values differ\nassert False", None, None),
    ("ZeroDivisionError: division by zero", None, None),
    ("ValueError: a != b", None, None),
])
def test_expected_got_and_left_right(message, expected, left_right):
    assert errorinfo.expected_got(message) == expected
    assert errorinfo.left_right(message) == left_right


# ⚠️ minor only for numeric drift within a tolerance: approx, numpy.testing's tolerance
# assertions, unittest's assertAlmostEqual, a float comparison within a relative 1e-6.
@pytest.mark.parametrize("status, when, message, severity", [
    ("FAIL", "call", "assert 2.1e-05 < 1e-06", "moderate"),
    ("FAIL", "call", "assert 0.73 < 0.5\n +  where 0.73 = random()", "moderate"),
    ("FAIL", "call", "assert 45 == 46", "moderate"),
    ("FAIL", "call", "assert 1.0 == 1.1", "moderate"),
    ("FAIL", "call", "assert 0.30000000000000004 == 0.3", "minor"),
    ("FAIL", "call", "assert 1.0000001 <= 1.0", "minor"),
    ("FAIL", "call", "assert 0.1 == 0.2 ± 2.0e-07", "minor"),
    ("FAIL", "call", "AssertionError: \nNot equal to tolerance rtol=1e-07, atol=0", "minor"),
    ("FAIL", "call", "AssertionError: \nArrays are not almost equal to 6 decimals", "minor"),
    ("FAIL", "call", "AssertionError: \nItems are not equal to 7 significant digits:", "minor"),
    ("FAIL", "call", "AssertionError: Arrays are not equal to 1 ULP (max is 3)", "minor"),
    ("FAIL", "call", "AssertionError: 0.3 != 0.31 within 7 places (0.01 difference)", "minor"),
    ("FAIL", "call", "AssertionError: \nArrays are not equal\n ACTUAL: 1\n DESIRED: 2", "moderate"),
    ("FAIL", "call", "assert 'a' == 'b'", "moderate"),
    ("FAIL", "call", "assert 1 in [2]", "moderate"),
    ("FAIL", "call", "ValueError: bad", "moderate"),
    ("ERROR", "setup", "RuntimeError: fixture broke", "critical"),
    ("ERROR", "teardown", "assert 1 == 2", "critical"),
    ("ERROR", "collect", "ImportError: no module", "critical"),
])
def test_severity(status, when, message, severity):
    assert errorinfo.severity(status, when, message) == severity


@pytest.mark.parametrize("message, error_type", [
    ("assert 1 == 2", "AssertionError"), ("ValueError: x", "ValueError"),
    ("pytest.PytestUnraisableExceptionWarning: y", "pytest.PytestUnraisableExceptionWarning"),
    ("something odd", "Error"), ("", "Error"),
])
def test_error_type_from_message(message, error_type):
    assert errorinfo.error_type_from_message(message) == error_type


@pytest.mark.parametrize("error_type, message, expected_got, text", [
    ("AssertionError", "assert 1 == 2", "Expected 2, got 1", "AssertionError: Expected 2, got 1"),
    ("RuntimeError", "RuntimeError: boom", None, "RuntimeError: boom"),
    ("Failed", "no reason", None, "Failed: no reason"),
])
def test_error_text(error_type, message, expected_got, text):
    assert errorinfo.error_text(error_type, message, expected_got) == text


# `python -m pytest`, no `--testlog` (the seed alone seeds without recording: nothing is
# committed), the recorded options that change collection or seeding.
def test_reproduce_command_quotes_keeps_the_hash_seed_and_commits_nothing():
    assert errorinfo.reproduce_command("t.py::test[a b]", 7, "0") == \
        "PYTHONHASHSEED=0 python -m pytest 't.py::test[a b]' --testlog-seed=7"
    assert errorinfo.reproduce_command("t.py::t", 7, None, ["-p", "no:randomly", "-o", "a=b c"]) \
        == "python -m pytest t.py::t --testlog-seed=7 -p no:randomly -o 'a=b c'"
    assert errorinfo.reproduce_command("t.py::t", 7, "random", (), errorinfo.TEMP_OUT) == \
        'python -m pytest t.py::t --testlog-seed=7 --testlog-out "$(mktemp -d)"'


def test_timing_summary_matches_mean_and_sample_variance():
    samples = {"a": [1.5, 2.5, 4.0], "b": [3.0]}
    summary = parse_summary(None)
    for i in range(3):
        run = [(name, values[i]) for name, values in samples.items() if i < len(values)]
        summary = parse_summary(canonical_json(updated_summary(summary, run)))
    a = summary["tests"]["a"]
    assert a["runs"] == 3 and a["last_ms"] == 4.0
    assert math.isclose(a["mean_ms"], statistics.mean(samples["a"]), abs_tol=1e-6)
    assert math.isclose(a["variance_ms2"], statistics.variance(samples["a"]), rel_tol=1e-6)
    assert summary["tests"]["b"] == {"runs": 1, "mean_ms": 3.0, "m2": 0.0, "variance_ms2": 0.0,
                                     "last_ms": 3.0}
    assert parse_summary(b"not json") == empty_summary()


def test_values_hash_kind_and_exact_value():
    one, one_float, one_str = describe_value(1), describe_value(1.0), describe_value("1")
    assert len({one["hash"], one_float["hash"], one_str["hash"]}) == 3
    third = describe_value(1 / 3)
    assert third["value"] == 0.333333 and float.fromhex(third["exact"]) == 1 / 3
    assert describe_value([0.5, {"k": (1, 2.0)}]) == {
        "kind": "json", "value": [0.5, {"k": [1, 2.0]}],
        "exact": ["0x1.0000000000000p-1", {"k": [1, "0x1.0000000000000p+1"]}],
        "hash": describe_value([0.5, {"k": [1, 2.0]}])["hash"]}
    assert describe_value(b"\x00\x01")["data"] == "AAE="
    assert describe_value(float("nan"))["value"] == "nan"
    with pytest.raises(TypeError, match="cannot record a value of type object"):
        describe_value(object())


def test_arrays_hash_by_dtype_shape_and_bytes():
    np = pytest.importorskip("numpy")
    base = describe_value(np.arange(6, dtype=np.float64).reshape(2, 3))
    assert base["kind"] == "ndarray" and base["dtype"] == "<f8" and base["shape"] == [2, 3]
    assert base["hash"] == describe_value(np.arange(6, dtype=np.float64).reshape(2, 3))["hash"]
    assert base["hash"] != describe_value(np.arange(6, dtype=np.float64).reshape(3, 2))["hash"]
    assert base["hash"] != describe_value(np.arange(6, dtype=np.float32).reshape(2, 3))["hash"]
    assert describe_value(np.arange(6.0).reshape(2, 3).T)["value"] == [[0, 3], [1, 4], [2, 5]]


def test_result_hash_is_none_without_outputs_and_covers_every_output():
    assert result_hash({}) is None
    a = {"x": describe_value(1.0)}
    assert result_hash(a) != result_hash({"x": describe_value(1.0000001)})
    assert result_hash(a) == result_hash({"x": describe_value(1.0)})


def test_records_have_exactly_the_design_fields_and_the_canonical_signature():
    record, encoded = build_record(
        TestOutcome("t.py::a", {"setup": (P, False)}, order=3), None, base_seed=42,
        environment={"os": "Linux"}, determinism="seeded", clock=IsoClock(), redact=str)
    assert list(record) == ["test_name", "timestamp_start", "timestamp_end", "duration_ms",
                            "status", "seed", "rng_state", "rng_state_after", "inputs",
                            "outputs", "determinism_check", "environment", "order", "worker",
                            "signature"]
    assert record["signature"] == record_signature(record)
    assert encoded == canonical_json(record)
    assert record["determinism_check"] == "not-captured" and record["seed"] == derive_seed(42, "t.py::a")


def test_run_json_is_canonical_sorted_and_signed():
    bundle = run_bundle(unit_context(), unit_harvest())
    data = bundle.files["runs/20251101__unit__run.jsonl"]
    assert all(canonical_json(json.loads(line)) == line for line in data.splitlines())
    parsed = runs.run_data(data, "runs/20251101__unit__run.jsonl", "the run file")
    assert [r["test_name"] for r in parsed["records"]] == ["t.py::a", "t.py::b", "t.py::c[ü]"]
    assert all(r["signature"] == record_signature(r) for r in parsed["records"])
    assert parsed["run"]["nodeids"] == ["t.py::b", "t.py::a", "t.py::c[ü]"]
    assert parsed["records"][0]["timestamp_start"] == "2025-10-31T08:40:00.500Z"
    assert bundle.summary == "TEST_SUITE_EXECUTED unit PASS 3 passed 0 failed"
    assert bundle.files["runs/20251101__unit__dirty.patch"] is None
    assert bundle.files["runs/20251101__unit__run.json"] is None     # the full format's name
    assert bundle.files["coverage/20251101__unit__coverage.json"] is None


def test_verdicts_counts_and_pass_rate():
    t = {"tests": 5, "passed": 2, "failed": 1, "errors": 0, "skipped": 1, "xfailed": 0,
         "xpassed": 1, "collection_errors": 0}
    ended = {"not_run": 0, "collection_errors": 0, "interruption": None, "exit_status": 1,
             "stopped_by_maxfail": False}
    assert run_verdict(t, **ended) == "FAIL" and pass_rate(t) == 75.0
    clean = {**t, "failed": 0}
    assert run_verdict(clean, **{**ended, "exit_status": 0}) == "PASS"
    assert commit_summary("unit", "FAIL", t) == "TEST_SUITE_EXECUTED unit FAIL 3 passed 1 failed"
    assert commit_summary("unit", "INTERRUPTED", {**t, "not_run": 4}) == \
        "TEST_SUITE_EXECUTED unit INTERRUPTED 3 passed 1 failed 4 not run"
    assert pass_rate({k: 0 for k in t}) is None


def test_milliseconds_from_nanoseconds_are_already_canonical():
    import random as _random
    rng = _random.Random(3)
    for ns in [0, 1, 999, 1_000_000, 2_345_678, 10**12 + 7] + [rng.randrange(10**13) for _ in range(2000)]:
        assert round(ns / 1e6, 6) == ns / 1e6


def test_layout_sibling_path():
    assert layout.sibling_path("runs/20251101__unit__run.json", "summary", "md") == \
        "summaries/20251101__unit__summary.md"
    with pytest.raises(ValueError):
        layout.sibling_path("README.md", "summary", "md")
