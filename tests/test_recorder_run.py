"""`pytest --testlog` end to end: a sample suite recorded three times into a real repository
(twice with the same seed, once under `-n 2`), read back with plain git."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from subprocess import CompletedProcess

import pytest

from testlog.core.canonical import canonical_json, record_signature
from testlog.core.records import RECORD_KEYS
from testlog.core.seeds import derive_seed
from tests.fixtures import git, make_repo, user_state
from tests.recorder_helpers import (
    branch_files,
    golden,
    normalise_text,
    pytest_env,
    records_by_name,
    run_data,
    run_pytest,
    show,
)

SAMPLE = {
    "data/input.txt": "fixture data\n",
    "tests/unit/test_sample.py": '''\
import random

import numpy as np
import pytest
import torch

MODULE_DRAW = float(np.random.rand())      # drawn while collecting


def test_module_draw(testlog):
    testlog.output("module_draw", MODULE_DRAW)


def test_python_random(testlog):
    testlog.output("value", random.random())


def test_numpy(testlog):
    testlog.input("data/input.txt")
    testlog.input(3, name="count")
    testlog.output("array", np.random.rand(3))
    testlog.output("gauss", np.random.standard_normal())


def test_torch(testlog):
    testlog.output("tensor", torch.rand(2, 2))


def test_generator(testlog_rng, testlog):
    testlog.output("draws", testlog_rng.random(4))


@pytest.mark.parametrize("n", [1, 2])
def test_param(n, testlog):
    testlog.output("n", n * random.random())


def test_fail():
    assert 1 + 1 == 3


def test_drift():
    assert abs(0.1 + 0.2 - 0.3) > 1e-3


@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")


def test_error(broken):
    pass


@pytest.mark.skip(reason="not today")
def test_skip():
    pass


@pytest.mark.xfail(reason="known")
def test_xfail():
    assert False


@pytest.mark.xfail(reason="flaky")
def test_xpass():
    pass
'''}
MODULE = "tests/unit/test_sample.py"
STATUSES = {"test_module_draw": "PASS", "test_python_random": "PASS", "test_numpy": "PASS",
            "test_torch": "PASS", "test_generator": "PASS", "test_param[1]": "PASS",
            "test_param[2]": "PASS", "test_fail": "FAIL", "test_drift": "FAIL",
            "test_error": "ERROR", "test_skip": "SKIP", "test_xfail": "XFAIL",
            "test_xpass": "XPASS"}
SEED = 1234
VOLATILE = ("timestamp_start", "timestamp_end", "duration_ms", "signature")


@dataclass
class Recorded:
    repo: Path
    runs: list[CompletedProcess[str]]      # two same-seed runs, then one under -n 2
    before: dict[str, str]
    after: dict[str, str]
    fingerprint: str

    def rev(self, index: int) -> str:
        return f"testlog~{len(self.runs) - 1 - index}"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, sandbox: dict[str, str],
             gpg_key: str) -> Recorded:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in sandbox.items():
            mp.setenv(key, value)
        repo = make_repo(tmp_path_factory.mktemp("recorded") / "proj", SAMPLE)
        git(repo, "config", "user.signingkey", gpg_key)
        env = pytest_env(sandbox, PYTHONHASHSEED="0")
        before = user_state(repo)
        args = ("--testlog", f"--testlog-seed={SEED}", "tests/unit")
        runs = [run_pytest(repo, env, *args) for _ in range(2)]
        runs.append(run_pytest(repo, env, *args, "-n", "2"))
        return Recorded(repo, runs, before, user_state(repo), gpg_key)


def _message(repo: Path, rev: str) -> tuple[str, dict[str, str]]:
    subject, _, body = git(repo, "log", "-1", "--format=%B", rev).strip().partition("\n\n")
    return subject, dict(line.split(": ", 1) for line in body.splitlines())


def test_exit_status_is_the_tests_and_the_terminal_names_the_commit(recorded: Recorded):
    for run in recorded.runs:
        assert run.returncode == 1, run.stdout + run.stderr
    sha = git(recorded.repo, "rev-parse", recorded.rev(0)).strip()
    assert (f"testlog: unit FAIL (8 passed 3 failed) recorded as {sha[:10]} on "
            f"refs/heads/testlog (signed by {recorded.fingerprint})") in recorded.runs[0].stdout


def test_one_signed_orphan_commit_per_run_with_message_and_trailers(recorded: Recorded):
    repo = recorded.repo
    assert git(repo, "rev-list", "--count", "testlog").strip() == "3"
    assert git(repo, "rev-list", "--max-parents=0", "testlog").strip() == \
        git(repo, "rev-parse", "testlog~2").strip()
    subject, trailers = _message(repo, "testlog")
    assert subject == "TEST_SUITE_EXECUTED unit FAIL 8 passed 3 failed"
    event = json.loads(trailers.pop("Testlog-Event-Record"))      # the chronicle's event
    assert canonical_json(event).decode() == _message(repo, "testlog")[1]["Testlog-Event-Record"]
    assert (event["event"], event["verdict"]) == ("TEST_SUITE_EXECUTED", "FAIL")
    parent_event = _message(repo, "testlog~1")[1]["Testlog-Event-Record"].encode()
    assert trailers.pop("Testlog-Previous-Event") == hashlib.sha256(parent_event).hexdigest()
    assert "Testlog-Previous-Event" not in _message(repo, "testlog~2")[1]   # the first commit
    assert trailers == {"Testlog-Event": "TEST_SUITE_EXECUTED",
                        "Testlog-Source-Commit": git(repo, "rev-parse", "main").strip(),
                        "Testlog-Source-Tree": git(repo, "rev-parse", "main^{tree}").strip(),
                        "Testlog-Suite": "unit", "Testlog-Verdict": "FAIL", "Testlog-Schema": "2"}
    for index in range(3):
        git(repo, "verify-commit", recorded.rev(index))
    git(repo, "fsck", "--strict")


def test_the_spec_files_are_on_the_branch(recorded: Recorded):
    day = run_data(recorded.repo)["run"]["day"]
    stem = f"{day}__unit__"
    assert sorted(branch_files(recorded.repo)) == sorted([
        "README.md", f"runs/{stem}run.jsonl", f"runs/{stem}run.log",
        f"determinism/{stem}determinism.json", f"timing/{stem}timing.csv",
        f"errors/{stem}errors.log", f"errors/{stem}errors.json", f"summaries/{stem}summary.md",
        f"summaries/{stem}summary.json"])


def test_records_have_the_schema_seeds_and_signatures(recorded: Recorded):
    data = run_data(recorded.repo, recorded.rev(0))
    raw = show(recorded.repo, data["run"]["files"]["run"], recorded.rev(0)).encode()
    assert all(canonical_json(json.loads(line)) == line for line in raw.splitlines())
    records = data["records"]
    assert [r["test_name"] for r in records] == sorted(f"{MODULE}::{n}" for n in STATUSES)
    for record in records:
        name = record["test_name"].split("::")[1]
        assert tuple(sorted(record)) == tuple(sorted(RECORD_KEYS))
        assert record["signature"] == record_signature(record)
        assert record["status"] == STATUSES[name]
        assert record["seed"] == derive_seed(SEED, record["test_name"])
        assert record["determinism_check"] == "seeded" and record["worker"] is None
        assert {"python", "numpy", "torch"} <= set(record["rng_state"]) <= \
            set(record["rng_state_after"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["timestamp_start"])
    assert sorted(r["order"] for r in records) == list(range(len(STATUSES)))


def test_rng_states_inputs_and_outputs(recorded: Recorded):
    records = records_by_name(recorded.repo, recorded.rev(0))
    numpy_test = records[f"{MODULE}::test_numpy"]
    assert numpy_test["rng_state"]["numpy"] != numpy_test["rng_state_after"]["numpy"]
    assert numpy_test["rng_state"]["torch"] == numpy_test["rng_state_after"]["torch"]
    data_hash = hashlib.sha256((recorded.repo / "data/input.txt").read_bytes()).hexdigest()
    assert numpy_test["inputs"]["data/input.txt"] == {"kind": "file", "path": "data/input.txt",
                                                      "size": 13, "hash": data_hash}
    assert numpy_test["inputs"]["count"]["value"] == 3
    array = numpy_test["outputs"]["values"]["array"]
    assert array["kind"] == "ndarray" and array["dtype"] == "<f8" and array["shape"] == [3]
    gauss = numpy_test["outputs"]["values"]["gauss"]
    assert round(float.fromhex(gauss["exact"]), 6) == gauss["value"]
    assert numpy_test["outputs"]["result_hash"] is not None
    generator = records[f"{MODULE}::test_generator"]
    assert generator["rng_state"]["testlog_rng"] != generator["rng_state_after"]["testlog_rng"]
    fail = records[f"{MODULE}::test_fail"]
    assert fail["outputs"] == {"result_hash": None, "values": {}}
    assert fail["rng_state"] == fail["rng_state_after"]


def test_run_block_records_source_seeds_and_environment(recorded: Recorded):
    run = run_data(recorded.repo, recorded.rev(0))["run"]
    repo = recorded.repo
    assert run["source"] == {"commit": git(repo, "rev-parse", "main").strip(),
                             "tree": git(repo, "rev-parse", "main^{tree}").strip(),
                             "dirty": False, "dirty_diff_path": None, "untracked": []}
    assert (run["base_seed"], run["pythonhashseed"], run["hash_order_reproducible"]) == (SEED, "0", True)
    assert run["suite"] == "unit" and run["schema_version"] == 3 and run["xdist_workers"] == 0
    assert set(run["session_states"]) == {"python", "numpy", "torch"}
    assert run["nodeids"] == [f"{MODULE}::{n}" for n in STATUSES]
    assert run["pytest"]["args"][-1] == "tests/unit"
    env = run["environment"]
    assert env["env_key"]["source"] == "repository" and "PATH" in env["env"]
    assert all(v.startswith("hmac-sha256:") for v in env["env"].values())
    # pytest's closing-line counts and the run's own (issue 15: schema 2 adds the rest).
    assert run["totals"] == {"tests": 13, "passed": 7, "failed": 2, "errors": 1, "skipped": 1,
                             "xfailed": 1, "xpassed": 1, "collection_errors": 0,
                             "deselected": 0, "rerun": 0, "subtests_passed": 0,
                             "subtests_skipped": 0, "subtests_xfailed": 0, "flaky": 0,
                             "selected": 13, "not_run": 0,
                             "statuses": {"PASS": 7, "FAIL": 2, "ERROR": 1, "SKIP": 1,
                                          "XFAIL": 1, "XPASS": 1}}
    assert (run["verdict"], run["incomplete"], run["interruption"], run["selection"]) == (
        "FAIL", None, None, None)
    assert run["capture"] == {"mode": "fd", "log": True, "hashed": True}


def _stable(records: list[dict]) -> bytes:
    return canonical_json([{k: v for k, v in r.items() if k not in VOLATILE} for r in records])


def test_two_runs_with_the_same_seed_give_identical_records(recorded: Recorded):
    first = run_data(recorded.repo, recorded.rev(0))
    second = run_data(recorded.repo, recorded.rev(1))
    assert _stable(first["records"]) == _stable(second["records"])
    path = first["run"]["files"]["determinism"]
    assert show(recorded.repo, path, recorded.rev(0)) == show(recorded.repo, path, recorded.rev(1))


def test_xdist_records_the_same_seeds_statuses_and_hashes(recorded: Recorded):
    alone = records_by_name(recorded.repo, recorded.rev(0))
    spread = records_by_name(recorded.repo, recorded.rev(2))
    assert alone.keys() == spread.keys()
    for name, record in alone.items():
        other = spread[name]
        for key in ("seed", "status", "outputs", "rng_state", "rng_state_after"):
            assert record[key] == other[key], (name, key)
        assert other["worker"] in ("gw0", "gw1")
    run = run_data(recorded.repo, recorded.rev(2))["run"]
    assert run["xdist_workers"] == 2
    assert run["session_states"] == run_data(recorded.repo, recorded.rev(0))["run"]["session_states"]


def test_run_log_summary_and_error_log_match_their_golden_files(recorded: Recorded):
    files = run_data(recorded.repo, recorded.rev(0))["run"]["files"]
    for key, name in (("run_log", "run.log"), ("summary_md", "summary.md"),
                      ("errors_log", "errors.log")):
        golden(name, normalise_text(show(recorded.repo, files[key], recorded.rev(0))))


def test_timing_files(recorded: Recorded):
    files = run_data(recorded.repo)["run"]["files"]
    rows = show(recorded.repo, files["timing_csv"]).splitlines()
    assert rows[0] == "test_name,start_ns,end_ns,duration_ns,duration_ms,memory_mb,cpu_util"
    assert len(rows) == 1 + len(STATUSES)
    name, start, end, duration, ms, memory, cpu = rows[1].split(",")
    assert int(end) - int(start) == int(duration) and float(memory) > 0
    assert "timing/timing_summary.json" not in branch_files(recorded.repo)    # computed on read


def test_chronicle_event_hashes_the_run_file(recorded: Recorded):
    chronicle = git(recorded.repo, "log", "--reverse", "--format=%(trailers:key=Testlog-Event-"
                    "Record,valueonly)", "testlog").split()
    events = [json.loads(line) for line in chronicle]
    assert [e["event"] for e in events] == ["TEST_SUITE_EXECUTED"] * 3
    artifact = events[0]["artifact"]
    assert events[0]["hash"] == hashlib.sha256(
        git(recorded.repo, "cat-file", "blob", f"{recorded.rev(0)}:{artifact}").encode()).hexdigest()
    assert events[0]["signature"] == f"gpg:{recorded.fingerprint}"
    assert "Testlog-Event-Record" in show(recorded.repo, "README.md")      # how to browse it


def test_user_head_index_and_tree_are_unchanged(recorded: Recorded):
    assert recorded.after == recorded.before


def _cli(repo: Path, *args: str) -> str:
    import contextlib
    import io

    from testlog.cli import main
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["-C", str(repo), *args]) == 0
    return out.getvalue()


def test_git_testlog_log_lists_runs_with_suite_verdict_and_counts(recorded: Recorded):
    lines = _cli(recorded.repo, "log", "--runs").splitlines()
    assert len(lines) == 3
    assert re.search(r"signed\s+run  unit  FAIL  8 passed  3 failed  source [0-9a-f]{10}$", lines[0])
    entry = json.loads(_cli(recorded.repo, "log", "--json", "-n", "1"))
    assert entry["run"] == {"suite": "unit", "verdict": "FAIL", "passed": 8, "failed": 3,
                            "not_run": 0, "selection": None,
                            "source_commit": git(recorded.repo, "rev-parse", "main").strip(),
                            "source_tree": git(recorded.repo, "rev-parse", "main^{tree}").strip()}


def test_git_testlog_show_prints_the_run_summary(recorded: Recorded):
    text = _cli(recorded.repo, "show", recorded.rev(0))
    assert "# Test run `unit`: FAIL" in text and "| pass rate | 72.73% |" in text
    shown = json.loads(_cli(recorded.repo, "show", "--json", recorded.rev(0)))
    assert shown["run"]["summary"]["totals"]["tests"] == 13
    assert shown["run"]["artifact"].endswith("__unit__run.jsonl")
    assert shown["signature"] == "good"
    lines = _cli(recorded.repo, "show", "--records", recorded.rev(0)).splitlines()
    records = [json.loads(line) for line in lines]
    assert records == run_data(recorded.repo, recorded.rev(0))["records"]
    assert all(r["signature"] == record_signature(r) for r in records)
