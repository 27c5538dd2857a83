"""`git testlog compare`: two recorded runs side by side, nothing re-executed."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from testlog.core.hashing import describe_value, result_hash
from testlog.replay.compare import compare_runs, render_lines, timing_changed
from tests.fixtures import git, user_state
from tests.replay_support import cli, project, record, tip


def rec(name: str, status: str = "PASS", value: float | None = 1.0, after: str = "a",
        ms: float = 2.0, seed: int = 7, captured: dict | None = None) -> dict:
    values = {"v": describe_value(value)} if value is not None else {}
    outputs = {"result_hash": result_hash(values), "values": values}
    if captured is not None:
        outputs["captured"] = captured
    return {"test_name": name, "status": status, "duration_ms": ms, "seed": seed,
            "outputs": outputs, "rng_state_after": {"python": after}}


@pytest.mark.parametrize("a,b,kinds", [
    (rec("t"), rec("t"), None),
    (rec("t"), rec("t", status="FAIL"), ("status",)),
    (rec("t"), rec("t", value=1.0 + 1e-6), ("output",)),
    (rec("t"), rec("t", captured={"call/stdout": "ab"}), ("output",)),
    (rec("t"), rec("t", after="b"), ("rng",)),                 # the same seed: listed
    (rec("t"), rec("t", after="b", seed=8), None),             # another seed: expected
    (rec("t"), rec("t", ms=9.0), ("timing",)),
    (rec("t"), rec("t", ms=3.0), None),                       # under the factor
    (rec("t", ms=0.1), rec("t", ms=0.9), None),               # under the floor
    (rec("t"), rec("t", status="FAIL", value=None, after="b", ms=20.0),
     ("status", "output", "rng", "timing")),
])
def test_changes_table(a, b, kinds):
    """Changed deliberately (issue 16): a result hash or captured-output change is an "output"
    change (was "result"); --exit-code fails on status and output changes only, no longer on
    RNG ones; RNG after-states that differ with the seed are counted, not listed."""
    result = compare_runs({}, [a], {}, [b])
    assert (result.changes[0].kinds if result.changes else None) == kinds
    assert result.results_differ is bool(kinds and set(kinds) & {"status", "output"})
    assert result.strict_differ is bool(kinds or result.rng_expected)


def test_expected_rng_changes_are_counted_not_listed():
    """Two ordinary runs under different base seeds: every after-state differs, nothing is
    listed, --exit-code passes, --strict does not."""
    a = [rec(f"t{i}", after="a", seed=i) for i in range(5)]
    b = [rec(f"t{i}", after="b", seed=100 + i) for i in range(5)]
    result = compare_runs({"base_seed": 1}, a, {"base_seed": 2}, b, factor=1e9)
    assert result.changes == () and result.rng_expected == tuple(f"t{i}" for i in range(5))
    assert result.headline["rng"] == 5 and result.headline["rng_expected"] == 5
    assert not result.results_differ and result.strict_differ
    lines = render_lines("A", "B", result)
    assert lines[1] == ("  0 status, 0 output, 5 RNG (5 expected: the seeds differ; counted, "
                        "not listed), 0 timing")
    assert "  no test changed" in lines and not any("t3" in line for line in lines)


@pytest.mark.parametrize("recorded,b_ms,changed", [
    ([2.0] * 10, 2.5, True),                         # steady test: 25% is beyond its variance
    ([1.0, 3.0, 2.0, 5.0, 1.5, 4.0, 2.5, 3.5], 4.0, False),   # noisy test: within
    ([2.0] * 3, 3.5, False),                         # too few recorded: the factor rule (×1.75)
])
def test_timing_against_recorded_variance(recorded, b_ms, changed):
    result = compare_runs({}, [rec("t", ms=2.0)], {}, [rec("t", ms=b_ms)],
                          recorded_ms={"t": recorded})
    assert bool(result.group("timing")) is changed
    if changed:
        assert "beyond its recorded variance (median 2.000 ms" in result.changes[0].details[0]


@pytest.mark.parametrize("a,b,changed", [(1.0, 2.0, True), (2.0, 1.0, True), (1.0, 1.5, False),
                                         (0.0, 1.5, True), (0.0, 0.5, False)])
def test_timing_changed(a, b, changed):
    assert timing_changed(a, b, 2.0, 1.0) is changed


def test_only_in_one_run_and_notes():
    run_a = {"base_seed": 1, "source": {"tree": "t1"}, "pythonhashseed": "0",
             "environment": {"numpy_version": "2.4.6"}}
    run_b = {"base_seed": 2, "source": {"tree": "t2", "dirty": True}, "pythonhashseed": None,
             "environment": {"numpy_version": "2.3.0"}}
    result = compare_runs(run_a, [rec("a"), rec("both")], run_b, [rec("both"), rec("b")])
    assert (result.only_a, result.only_b, result.common) == (("a",), ("b",), 1)
    assert result.results_differ
    assert [n.split(" ")[0] for n in result.notes] == ["base", "source", "PYTHONHASHSEED",
                                                        "environment:"]
    lines = render_lines("A", "B", result)
    assert lines[0] == "compare A → B: 1 tests in both, 0 changed, 1 only in A, 1 only in B"
    assert "  only in B: b" in lines


RANDOM_TEST = '''\
import random

OFFSET = 0.0


def test_value(testlog):
    testlog.output("x", random.random() + OFFSET)


def test_same():
    assert True
'''


def test_compare_two_recorded_runs(tmp_path: Path):
    repo = project(tmp_path / "repo", {"tests/test_r.py": RANDOM_TEST})
    first = record(repo, "--testlog-seed=5", "tests")
    again = record(repo, "--testlog-seed=5", "tests")
    path = repo / "tests" / "test_r.py"
    path.write_text(path.read_text().replace("OFFSET = 0.0", "OFFSET = 1e-7"))
    moved = record(repo, "--testlog-seed=5", "tests")
    before, tip_before = user_state(repo), tip(repo)
    code, out, err = cli("-C", str(repo), "compare", first, again, "--exit-code",
                         "--timing-factor", "1e9")          # timing is noise here
    assert (code, err) == (0, "") and "0 changed" in out and "no test changed" in out
    code, out, err = cli("-C", str(repo), "compare", first[:10], moved, "--exit-code",
                         "--timing-factor", "1e9")
    assert code == 1 and "result" in out and "tests/test_r.py::test_value" in out
    assert "max Δ 1e-07" in out and "source differs" in out
    code, out, _ = cli("-C", str(repo), "compare", first, moved, "--json", "--timing-factor", "1e9")
    data = json.loads(out)
    assert code == 0 and data["a"] == first and [c["test_name"] for c in data["changes"]] == \
        ["tests/test_r.py::test_value"]
    assert user_state(repo) == before and tip(repo) == tip_before


def test_compare_refuses_what_is_not_a_run(tmp_path: Path):
    repo = project(tmp_path / "repo", {"tests/test_r.py": RANDOM_TEST})
    code, _out, err = cli("-C", str(repo), "compare", "testlog", "testlog~1")
    assert code == 2 and "git testlog fetch" in err
    first = record(repo, "tests")
    code, _out, err = cli("-C", str(repo), "compare", first, "nope")
    assert code == 2 and err.startswith("git-testlog: error: unknown revision 'nope'")
    main = git(repo, "rev-parse", "main").strip()
    code, _out, err = cli("-C", str(repo), "compare", first, main)
    assert code == 2 and "is not a commit on the log branch" in err
