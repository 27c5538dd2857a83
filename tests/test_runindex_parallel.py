"""The history's first reading parses the run files in chunks on every core: the view is the
one a single process reads (runs in order, the same facts, unreadable runs named in order),
and the history cache it fills gives the same view again."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

import testlog.parallel as parallel
import testlog.store.runindex as runindex
from testlog.core.layout import artifact_path
from testlog.core.runfacts import as_json
from testlog.store.events import commit_event
from tests.audit_helpers import record_run
from tests.store_helpers import open_store

DAY = date(2026, 4, 1)


@pytest.fixture
def many_runs(repo: Path) -> Path:
    """14 runs, the fifth a run file that is not JSON."""
    with open_store(repo, sign_key=False) as store:
        for k in range(14):
            day = DAY + timedelta(days=k)
            if k == 4:
                path = artifact_path("run", "json", day, "unit")
                commit_event(store, {path: b"{not json"}, event="TEST_SUITE_EXECUTED",
                             artifact=path, verdict="PASS", summary="TEST_SUITE_EXECUTED unit",
                             trailers={"Testlog-Suite": "unit"})
                continue
            statuses = {"t.py::a": "PASS", "t.py::b": "FAIL" if k % 3 == 0 else "PASS"}
            record_run(store, day, ("unit", "e2e")[k % 2], statuses, seed=k)
    return repo


def view_of(repo: Path, monkeypatch, cores: int) -> tuple[list[tuple[str, object]], list[str]]:
    monkeypatch.setattr(parallel, "usable_cores", lambda: cores)
    with open_store(repo, sign_key=False) as store:
        view = runindex.read_view(store, "me")
    return [(run.sha, as_json(run.facts)) for run in view.runs], list(view.skipped)


def test_a_cold_reading_on_two_cores_is_the_reading_of_one(many_runs: Path, monkeypatch):
    cache = many_runs / ".git" / "testlog" / "history-cache"
    monkeypatch.setattr(runindex, "PARSE_CHUNK", 3)
    one = view_of(many_runs, monkeypatch, cores=1)
    assert len(one[0]) == 13
    assert len(one[1]) == 1 and one[1][0].endswith(
        "__unit__run.json at " + one[1][0][4:14] + " is not valid JSON (Expecting property name "
        "enclosed in double quotes: line 1 column 2 (char 1)): left out (`git testlog verify` "
        "checks the log)")
    assert len(list(cache.rglob("*.json"))) == 13
    for path in cache.rglob("*.json"):
        path.unlink()
    assert view_of(many_runs, monkeypatch, cores=2) == one          # cold, forked chunks
    assert len(list(cache.rglob("*.json"))) == 13                   # the children cached them
    assert view_of(many_runs, monkeypatch, cores=2) == one          # warm
    for path in sorted(cache.rglob("*.json"))[::2]:                 # half cold, half warm
        path.unlink()
    assert view_of(many_runs, monkeypatch, cores=2) == one
