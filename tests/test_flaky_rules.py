"""The pure rules under `flaky`, `history` and `site`: classification by evidence
(core/flaky.py) and drift against a test's own variance (core/drift.py), on runs built in
memory (the recorded-runs tests are in test_flaky_history.py)."""
from __future__ import annotations

import pytest

from testlog.core import runfacts
from testlog.core.drift import beyond_variance, drift
from testlog.core.flaky import (
    ENVIRONMENT_DEPENDENT,
    NONDETERMINISTIC,
    SEED_DEPENDENT,
    UNDETERMINED,
    evidence_note,
    find_flaky,
    run_marks,
)
from testlog.core.logview import LoggedReplay, LoggedRun, LogView, ReplayedTest
from testlog.core.runfacts import CODE, RunFacts

T = "tests/test_x.py::test_t"
OK = "tests/test_x.py::test_ok"


def run(k: int, status: str, *, seed: int = 1, env: str = "e1", tree: str = "t1",
        attempts: tuple[str, ...] = ()) -> LoggedRun:
    """The k-th run: T ended `status` (under base seed `seed`), OK passed."""
    tests = runfacts.Tests((T, OK), CODE[status] + "P", (1.0, 1.0), {}, {},
                  {0: attempts} if attempts else {})
    facts = RunFacts(suite="tests", verdict="FAIL" if status == "FAIL" else "PASS",
                     started=f"2026-12-01T00:{k:02d}:00Z", duration_s=0.002, base_seed=seed,
                     pythonhashseed="0", environment=env, platform="Linux x86_64", mode="serial",
                     partial=None, tree=tree, commit=None, dirty_diff=None, tests=tests)
    return LoggedRun(f"{k:040x}", 1_700_000_000 + k, "this clone", tree, facts)


def classify(*runs: LoggedRun, replays: list[LoggedReplay] | None = None) -> dict[str, str]:
    return {f.test_name: f.classification
            for f in find_flaky(LogView(list(runs), replays or [], [], 1))}


def test_same_seed_two_outcomes_is_nondeterministic():
    assert classify(run(1, "PASS"), run(2, "FAIL")) == {T: NONDETERMINISTIC}


def test_attempts_that_differ_are_nondeterministic_in_one_run():
    assert classify(run(1, "PASS", attempts=("FAIL", "PASS"))) == {T: NONDETERMINISTIC}


def test_each_outcome_reproduced_under_its_seed_is_seed_dependent():
    runs = [run(1, "PASS", seed=1), run(2, "FAIL", seed=2), run(3, "PASS", seed=1),
            run(4, "FAIL", seed=2)]
    assert classify(*runs) == {T: SEED_DEPENDENT}
    flaky = find_flaky(LogView(runs, [], [], 1))[0]
    assert [o.run.facts.base_seed for o in flaky.failing_seeds] == [2]
    assert flaky.next_step() == f"git testlog replay {runs[3].sha[:10]} -k test_t"


def test_a_split_by_seed_not_yet_reproduced_is_undetermined_and_a_replay_decides():
    runs = [run(1, "PASS", seed=1), run(2, "FAIL", seed=2)]
    flaky = find_flaky(LogView(runs, [], [], 1))[0]
    assert (flaky.classification, flaky.leaning) == (UNDETERMINED, SEED_DEPENDENT)
    verified = [LoggedReplay(f"{90 + k:040x}", 1_800_000_000, "this clone", r.sha, "VERIFIED",
                             True, (ReplayedTest(T, "verified", s, s),))
                for k, (r, s) in enumerate(zip(runs, ("PASS", "FAIL")))]
    assert classify(*runs, replays=verified) == {T: SEED_DEPENDENT}
    not_reproduced = [LoggedReplay(f"{99:040x}", 1_800_000_000, "this clone", runs[0].sha,
                                   "FAILED", True, (ReplayedTest(T, "critical", "PASS", "FAIL"),))]
    assert classify(*runs, replays=not_reproduced) == {T: NONDETERMINISTIC}


def test_outcomes_that_follow_the_environment():
    runs = [run(1, "PASS", seed=1, env="e1"), run(2, "PASS", seed=2, env="e1"),
            run(3, "FAIL", seed=1, env="e2"), run(4, "FAIL", seed=2, env="e2")]
    assert classify(*runs) == {T: ENVIRONMENT_DEPENDENT}


def test_another_tree_is_a_change_not_a_flake():
    runs = [run(1, "PASS", tree="t1"), run(2, "FAIL", tree="t2")]
    assert classify(*runs) == {}
    assert evidence_note(runs) is not None and evidence_note(runs).startswith("no two of the 2")


def test_run_marks():
    runs = [run(1, "PASS"), run(2, "FAIL")]
    assert run_marks(runs[1], {T}) == {"contains": [T], "failed": [T]}
    assert run_marks(runs[0], {T}) == {"contains": [T], "failed": []}
    assert run_marks(runs[0], set()) == {"contains": [], "failed": []}


@pytest.mark.parametrize("values,direction", [
    ([10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 10.2, 9.9, 10.0, 10.1, 20.0, 20.5, 19.8],
     "slower"),
    ([10.0, 10.2, 9.9, 10.1, 10.0, 9.8, 10.1, 10.0, 10.2, 9.9, 10.0, 10.1, 5.0, 5.1, 4.9],
     "faster"),
    ([10.0, 30.0, 5.0, 25.0, 8.0, 40.0, 12.0, 20.0, 6.0, 35.0, 15.0, 28.0, 22.0, 30.0, 18.0],
     None),                                       # noisy: within its own variance
    ([10.0, 10.0, 10.0, 20.0, 20.0, 20.0], None),  # too few runs to judge
    ([10.0] * 12 + [11.0] * 3, None),               # steady, but under a tenth of the median
])
def test_drift_against_its_own_variance(values, direction):
    found = drift(values)
    assert (found.direction if found else None) == direction


def test_beyond_variance():
    assert beyond_variance([2.0] * 10, 2.0, 2.5) is True
    assert beyond_variance([1.0, 3.0, 2.0, 5.0, 1.5, 4.0, 2.5, 3.5], 2.0, 4.0) is False
    assert beyond_variance([2.0] * 3, 2.0, 9.0) is None


@pytest.mark.parametrize("line", [
    {"test_name": "a", "status": []},                       # unhashable: no TypeError
    {"test_name": "a", "status": "PASS", "attempts": [{"status": {}}]},
    {"test_name": "a", "status": "PASS", "timing": [True, 2]},
    {"test_name": "a", "status": "PASS", "seed": True},
    {"test_name": ["a"], "status": "PASS"},
    {"test_name": "a", "status": "PASS", "rng_state": "x"},
    ["not", "an", "object"],
])
def test_a_hostile_line_is_one_clean_error(line):
    with pytest.raises(runfacts.FactsError, match=r"^line 7"):
        runfacts.add_line(runfacts._Columns(), line, 7)
