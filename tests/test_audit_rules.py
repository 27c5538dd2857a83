"""The pure rules behind verify, seal and prune, as tables."""
from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime, timezone

import pytest

from gitstore import verify as sigs

from testlog.audit import checks
from testlog.audit.bundlefile import (
    deterministic_zip,
    parse_manifest,
    seal_contents_problems,
    sha256sum_manifest,
)
from testlog.audit.intoto import PREDICATE_TYPE, outcome_lists, overall_result, run_statement
from testlog.audit.options import parse_moment, whole_days
from testlog.audit.retention import epoch_record_problems, retention_boundary, rotation_candidates
from testlog.audit.sealcheck import seal_problems
from testlog.audit.verified import VerifiedState
from testlog.config import Setting
from testlog.core.canonical import canonical_json, sha256_hex, signed_record
from testlog.errors import TestlogError

LINES = [b'{"a":1}\n', b'{"b":22}\n', b'{"c":333}\n']
ENDS = checks.line_ends(LINES)         # {0: 0, 8: 1, 17: 2, 27: 3}


@pytest.mark.parametrize("sizes, roots, start, expected", [
    ([8, 17, 27], [True, False, False], 0, [(1, None), (2, None), (3, None)]),
    ([8, 8, 17], [True, False, False], 0, [(1, None), (None, "no chronicle event"), (2, None)]),
    ([8, 27], [True, False], 0, [(1, None), (3, "2 chronicle events in one commit")]),
    ([17, 8], [True, False], 0, [(2, "a root commit must start"), (None, "lost 1 event")]),
    ([8, 20], [True, False], 0, [(1, None), (None, "not an earlier state")]),
    ([None, 17], [True, False], 0, [(None, "missing"), (2, "2 chronicle events")]),
    ([27], [False], 2, [(3, None)]),              # incremental: two lines before the range
    ([27], [False], 3, [(None, "no chronicle event")]),
])
def test_chronicle_steps(sizes, roots, start, expected):
    steps = checks.chronicle_steps(sizes, roots, ENDS, start)
    assert [s.position for s in steps] == [e[0] for e in expected]
    for step, (_, problem) in zip(steps, expected):
        assert (step.problem is None) == (problem is None)
        assert problem is None or problem in step.problem


EVENT = {"event": "TEST_SUITE_EXECUTED", "timestamp": "2025-11-01T00:00:00Z", "artifact": "runs/x",
         "hash": "0" * 64, "signature": "gpg:ABCD", "verdict": "PASS"}
LINE = canonical_json(EVENT) + b"\n"
DIGEST = sha256_hex(canonical_json(EVENT))


@pytest.mark.parametrize("trailers, label, problem", [
    ({"Testlog-Event": "TEST_SUITE_EXECUTED", "D": DIGEST}, "gpg:abcd", None),
    ({"Testlog-Event": "TEST_SUITE_EXECUTED", "D": "1" * 64}, "gpg:ABCD", "differs from the event"),
    ({"Testlog-Event": "AUDIT_SEALED", "D": DIGEST}, "gpg:ABCD", "but the commit says"),
    ({"D": DIGEST}, "unsigned", "but the commit is unsigned"),
    ({"D": DIGEST}, None, None),               # signature already failing: nothing to match
])
def test_event_problems(trailers, label, problem):
    found = checks.event_problems(LINE, EVENT, trailers, label, "D")
    assert (found == []) == (problem is None)
    assert problem is None or problem in found[0]


@pytest.mark.parametrize("line, problem", [
    (LINE, None),
    (b"not json\n", "not JSON"),
    (b'{"event":"X"}\n', "exactly the keys"),
    (b"[1]\n", "exactly the keys"),
])
def test_parse_event(line, problem):
    event, found = checks.parse_event(line)
    assert (found is None) == (problem is None) and (event is None) == (problem is not None)
    assert problem is None or problem in found


def _run(records):
    return canonical_json({"schema_version": 1, "run": {}, "records": records})


GOOD = signed_record({"test_name": "t::a", "status": "PASS", "duration_ms": 0.1234567})


@pytest.mark.parametrize("data, count, problem", [
    (_run([GOOD]), 1, None),
    (_run([{**GOOD, "status": "FAIL"}]), 1, "t::a: its digest does not recompute"),
    (_run([{"test_name": "t::b"}]), 1, "has no digest"),
    (_run(["x"]), 1, "is not an object"),
    (b"{", 0, "not JSON"),
    (canonical_json({"records": 3}), 0, "no records list"),
    (canonical_json({"schema_version": 9, "records": []}), 0, "newer than this git-testlog"),
])
def test_run_file_problems(data, count, problem):
    checked, problems = checks.run_file_problems(data)
    assert checked == count
    assert (problems == []) == (problem is None)
    assert problem is None or problem in problems[0]


def test_zip_is_deterministic_sorted_and_timeless():
    files = {"runs/b.json": b"b" * 100, "runs/a.json": b"a", "timing/c.csv": b""}
    first = deterministic_zip(files)
    assert deterministic_zip(dict(reversed(list(files.items())))) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert archive.namelist() == sorted(files)
        assert {i.date_time for i in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in archive.infolist()} == {0o100644}


def test_manifest_round_trip_and_malformed_line():
    files = {"b": b"2", "a": b"1"}
    text = sha256sum_manifest(files)
    assert text.decode().splitlines()[0] == f"{sha256_hex(b'1')}  a"
    assert parse_manifest(text) == {"a": sha256_hex(b"1"), "b": sha256_hex(b"2")}
    with pytest.raises(ValueError, match="line 3"):
        parse_manifest(text + b"nonsense\n")


def _zip_with(members):
    return deterministic_zip(members)


@pytest.mark.parametrize("members, problem", [
    ({"a": b"1", "manifest.sha256": sha256sum_manifest({"a": b"1"})}, None),
    ({"a": b"X", "manifest.sha256": sha256sum_manifest({"a": b"1"})}, "does not match"),
    ({"a": b"1", "b": b"2", "manifest.sha256": sha256sum_manifest({"a": b"1"})}, "not listed"),
    ({"manifest.sha256": sha256sum_manifest({"a": b"1"})}, "which the zip lacks"),
    ({"a": b"1"}, "no manifest.sha256"),
])
def test_seal_contents_problems(members, problem):
    found = seal_contents_problems(_zip_with(members))
    assert (found == []) == (problem is None)
    assert problem is None or problem in found[0]


def test_seal_contents_problems_on_damaged_zip():
    good = _zip_with({"a": b"1" * 50, "manifest.sha256": sha256sum_manifest({"a": b"1" * 50})})
    assert "not a readable zip" in seal_contents_problems(b"PK" + good[10:])[0]


@pytest.mark.parametrize("statuses, result", [
    (["PASS", "XFAIL"], "PASSED"),
    (["PASS", "SKIP"], "WARNED"),
    (["XPASS"], "WARNED"),
    (["PASS", "SKIP", "FAIL"], "FAILED"),
    (["ERROR"], "FAILED"),
    (["WEIRD"], "FAILED"),            # an unknown outcome is never reported as a pass
])
def test_outcomes_map_to_the_test_result_predicate(statuses, result):
    records = [{"test_name": f"t{i}", "status": s} for i, s in enumerate(statuses)]
    assert overall_result(outcome_lists(records)) == result


def test_statement_subject_is_the_source_commit_else_the_run_file():
    run = canonical_json({"run": {"source_commit": "a" * 40, "source_tree": "b" * 40},
                          "records": [{"test_name": "t", "status": "PASS"}]})
    statement = run_statement("runs/r.json", run, {"determinism/d.json": b"{}"})
    assert statement["predicateType"] == PREDICATE_TYPE
    assert statement["subject"] == [{"name": "source",
                                     "digest": {"gitCommit": "a" * 40, "gitTree": "b" * 40}}]
    assert statement["predicate"]["configuration"][0]["name"] == "determinism/d.json"
    bare = run_statement("runs/r.json", canonical_json({"records": []}), {})
    assert bare["subject"] == [{"name": "runs/r.json", "digest": {"sha256": sha256_hex(
        canonical_json({"records": []}))}}]


@pytest.mark.parametrize("path, cutoff, rotated", [
    ("runs/20251031__unit__run.json", date(2025, 11, 1), True),
    ("runs/20251101__unit__run.json", date(2025, 11, 1), False),
    ("timing/20250101__unit__timing.csv", date(2025, 11, 1), True),
    ("timing/timing_summary.json", date(2025, 11, 1), False),        # undated: stays
    ("audit/logs_audit_2025_01_01.zip", date(2025, 11, 1), False),   # seals stay
    ("ledger/coverage.ndjson", date(2025, 11, 1), False),
    ("retention/epoch_2025_01_01.json", date(2025, 11, 1), False),
])
def test_rotation_candidates(path, cutoff, rotated):
    assert rotation_candidates([path], cutoff) == ([path] if rotated else [])


@pytest.mark.parametrize("times, cutoff, boundary", [
    ([10, 20, 30], 5, None),
    ([10, 20, 30], 25, 1),
    ([10, 20, 30], 31, 2),
    ([10, 40, 20, 50], 30, 2),        # clocks disagree: the newest old commit in chain order
])
def test_retention_boundary(times, cutoff, boundary):
    assert retention_boundary(times, cutoff) == boundary


def test_epoch_record_problems():
    record = {"previous_tip": "a" * 40, "boundary": "b" * 40, "bundle_sha256": "c" * 64,
              "chronicle_sha256_before": "d" * 64, "bundle": "x.bundle"}
    assert epoch_record_problems(json.dumps(record).encode()) == (record, [])
    broken = {**record, "previous_tip": "zz", "bundle": "../x"}
    found, problems = epoch_record_problems(json.dumps(broken).encode())
    assert found is None and len(problems) == 2
    assert epoch_record_problems(b"[") == (None, ["epoch record is not JSON"])


@pytest.mark.parametrize("before, now, require_before, require_now, vouches", [
    ({"A"}, {"A"}, False, False, True),
    ({"A"}, {"A", "B"}, False, False, True),     # trusting more keys keeps the old verdict
    ({"A", "B"}, {"A"}, False, False, False),    # a key dropped: its commits need re-checking
    ({"A"}, {"A"}, False, True, False),          # stricter signing rule: unsigned may hide
    ({"A"}, {"A"}, True, False, True),
])
def test_verified_state_vouches_only_under_the_same_or_wider_trust(before, now, require_before,
                                                                  require_now, vouches):
    state = VerifiedState("a" * 40, tuple(sorted(before)), require_before, 1, "0" * 64, "t")
    assert state.vouches_for(frozenset(now), require_now) is vouches


def test_times_and_day_counts():
    assert parse_moment("2025-11-01") == datetime(2025, 11, 1, tzinfo=timezone.utc)
    assert parse_moment("2025-11-01T10:00:00Z").hour == 10
    assert whole_days(Setting("30", "setup.cfg [testlog]"), "rotate_days") == 30
    with pytest.raises(TestlogError, match="2025/11/01"):
        parse_moment("2025/11/01")
    with pytest.raises(TestlogError, match=r"rotate_days \(setup.cfg \[testlog\]\) must be"):
        whole_days(Setting("thirty", "setup.cfg [testlog]"), "rotate_days")


def _seal():
    inner = {"runs/r.json": b"{}"}
    zip_ = deterministic_zip({**inner, "manifest.sha256": sha256sum_manifest(inner)})
    return zip_, sha256sum_manifest({"logs_audit_2025_11_01.zip": zip_})


GOOD_SIG = sigs.SignatureCheck(sigs.GOOD, "A" * 40)


@pytest.mark.parametrize("case, expected", [
    ("clean", []),
    ("zip edited", [("zip", "does not match its manifest")]),
    ("manifest lists another file", [("manifest", "does not list logs_audit_2025_11_01.zip")]),
    ("manifest garbage", [("manifest", "manifest line 1")]),
    ("signature missing", [("sig", "detached signature is missing")]),
    ("signature bad", [("zip", "does not match its detached signature")]),
    ("signature untrusted", [("sig", "signed by B")]),
    ("zip missing", [("zip", "the sealed zip is missing")]),
])
def test_seal_problems(case, expected):
    zip_, manifest = _seal()
    args = {"zip_": zip_, "manifest": manifest, "has_sig": True, "sig_check": GOOD_SIG}
    if case == "zip edited":
        args["zip_"] = deterministic_zip({"runs/r.json": b"[]", "manifest.sha256":
                                          sha256sum_manifest({"runs/r.json": b"[]"})})
    elif case == "manifest lists another file":
        args["manifest"] = sha256sum_manifest({"other.zip": zip_})
    elif case == "manifest garbage":
        args["manifest"] = b"garbage\n"
    elif case == "signature missing":
        args.update(has_sig=False, sig_check=None)
    elif case == "signature bad":
        args["sig_check"] = sigs.SignatureCheck(sigs.BAD, "A" * 40)
    elif case == "signature untrusted":
        args["sig_check"] = sigs.SignatureCheck(sigs.UNTRUSTED, "B" * 40)
    elif case == "zip missing":
        args.update(zip_=None, sig_check=None)
    found = seal_problems("audit/logs_audit_2025_11_01.zip", **args)
    assert [k for k, _ in found] == [k for k, _ in expected]
    for (_, problem), (_, wanted) in zip(found, expected):
        assert wanted in problem
