"""OS entropy (issue 19), end to end: real pytest runs (pytester subprocesses) in real git
repositories, the run read back with plain git, and real replays (`git testlog replay`).

A test's declared output comes from each mechanism (an import-time `default_rng()`,
`SeedSequence()`, `RandomState()`, a bit generator, `os.urandom`, `secrets`, `uuid.uuid4`,
`random.Random()`, `random.seed()`, `SystemRandom`, `torch.seed()`, `Generator.seed()`):
recorded and replayed it is verified; recorded with `--testlog-no-entropy` it is flagged; a
test that draws once more on replay is flagged "entropy draws differ"; under xdist the same.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from testlog.store.events import commit_event
from tests.fixtures import git, make_repo
from tests.recorder_helpers import event_at, git_bytes, run_data
from tests.replay_support import cli, last_report, replay, verdicts
from tests.store_helpers import open_store

pytestmark = pytest.mark.slow

BASE = ("-p", "no:randomly", "-p", "no:cacheprovider", "-q", "--testlog", "--testlog-no-sign",
        "--strict-markers")
HAS_TORCH = importlib.util.find_spec("torch") is not None

DRAWS = {"test_draws.py": '''\
import os
import random
import secrets
import uuid

import numpy as np

INPUTS = np.random.default_rng().random(4)      # drawn at import, without a seed (einops)


def test_import_time_generator(testlog):
    testlog.output("inputs", INPUTS)


def test_seed_sequence(testlog):
    testlog.output("x", np.random.default_rng(np.random.SeedSequence()).random(3))


def test_random_state(testlog):
    testlog.output("x", np.random.RandomState().rand(3))


def test_bit_generator(testlog):
    testlog.output("x", np.random.Generator(np.random.PCG64()).random(2))


def test_os_urandom(testlog):
    testlog.output("x", os.urandom(16))


def test_secrets(testlog):
    testlog.output("x", secrets.token_bytes(16))
    testlog.output("y", secrets.randbelow(10**9))


def test_uuid4(testlog):
    testlog.output("x", str(uuid.uuid4()))


def test_private_random(testlog):
    testlog.output("x", random.Random().random())


def test_global_random_seed(testlog):
    random.seed()
    testlog.output("x", random.random())


def test_system_random(testlog):
    testlog.output("x", random.SystemRandom().random())


def test_seeded(testlog):
    testlog.output("x", np.random.RandomState(7).rand(2))
    testlog.output("y", random.Random(3).random())
'''}
TORCH = {"test_torch_draws.py": '''\
import torch


def test_torch_seed(testlog):
    torch.seed()
    testlog.output("x", torch.rand(3))


def test_generator_seed(testlog):
    generator = torch.Generator()
    generator.seed()
    testlog.output("x", torch.rand(3, generator=generator))
'''}
# The tests that draw entropy themselves; test_import_time_generator's was drawn at import.
OWN_DRAWS = {"test_seed_sequence", "test_random_state", "test_bit_generator", "test_os_urandom",
             "test_secrets", "test_uuid4", "test_private_random", "test_global_random_seed",
             "test_system_random"} | (
    {"test_torch_seed", "test_generator_seed"} if HAS_TORCH else set())
DRAWING = OWN_DRAWS | {"test_import_time_generator"}


# -- helpers -------------------------------------------------------------------------------

@pytest.fixture(autouse=True)
def _hashseed(monkeypatch):
    """A pinned PYTHONHASHSEED: the replays need no second run under another one."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")


def project(pytester: pytest.Pytester, files: dict[str, str]) -> Path:
    return make_repo(pytester.path, files)


def record(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    result = pytester.runpytest_subprocess(*BASE, *args)
    assert "recorded as" in result.stdout.str(), result.stdout.str() + result.stderr.str()
    return result


def records(repo: Path) -> dict[str, dict[str, Any]]:
    """The last run's records by test function name."""
    return {r["test_name"].split("::", 1)[1]: r for r in run_data(repo)["records"]}


def branch_file(repo: Path, category: str, ext: str) -> bytes | None:
    """The last run's file of `category` (its run file's sibling), or None when not there."""
    artifact = event_at(repo)["artifact"]
    stem = artifact.split("/", 1)[1].rsplit("__", 1)[0]
    folder = {"entropy": "runs", "determinism": "determinism"}[category]
    listed = git(repo, "ls-tree", "--name-only", "testlog", f"{folder}/").split()
    path = f"{folder}/{stem}__{category}.{ext}"
    return git_bytes(repo, "show", f"testlog:{path}") if path in listed else None


def chunk_names(side: bytes) -> list[Any]:
    """The scope of each chunk of a side file, in file order (read as an auditor would: every
    chunk's header is a JSON line)."""
    names = []
    for line in side.split(b"\n"):
        if line.startswith(b'{"') and (b'"test":' in line or b'"collect":' in line):
            head = json.loads(line)
            names.append(head.get("test", head.get("collect")))
    return names


def flagged_reasons(report: dict[str, Any]) -> dict[str, list[str]]:
    return {t["test_name"].split("::", 1)[1]: t["reasons"] for t in report["tests"]
            if t["verdict"] != "verified"}


# -- every mechanism: recorded, replayed, verified -----------------------------------------

def test_every_mechanism_is_recorded_and_replayed_bit_for_bit(pytester):
    repo = project(pytester, {**DRAWS, **(TORCH if HAS_TORCH else {})})
    record(pytester)
    by_name = records(repo)
    drew = {name for name, r in by_name.items() if "entropy" in r}
    assert drew == OWN_DRAWS                         # a seeded test draws nothing
    assert "entropy" not in by_name["test_seeded"]
    assert by_name["test_os_urandom"]["entropy"]["draws"] == 1
    assert by_name["test_os_urandom"]["entropy"]["bytes"] == 16
    assert by_name["test_secrets"]["entropy"]["draws"] >= 2     # randbelow may draw again
    run = run_data(repo)["run"]
    assert run["entropy"] == {"captured": True, "limit": 65536}
    side = branch_file(repo, "entropy", "bin")
    assert side is not None and run["files"]["entropy"].endswith("__entropy.bin")
    assert sorted(n for n in chunk_names(side) if n.startswith("test_draws.py::")) == sorted(
        f"test_draws.py::{n}" for n in OWN_DRAWS if not n.startswith(("test_torch", "test_gen")))
    determinism = json.loads(branch_file(repo, "determinism", "json"))
    collected = determinism["entropy"]["collection"]["test_draws.py"]
    assert collected["draws"] == 1 and collected["bytes"] == 16    # the import-time generator
    code, out, _err = replay(repo, "testlog")
    report = last_report(repo)
    assert code == 0, out
    assert set(verdicts(report).values()) == {"verified"}
    fed = {t["test_name"].split("::", 1)[1]: t["entropy"] for t in report["tests"]
           if "entropy" in t}
    assert set(fed) == OWN_DRAWS
    assert all(e["fed"] == e["asked"] == e["recorded"]["draws"] and not e["differs"]
               for e in fed.values())


def test_without_entropy_capture_every_drawing_test_is_flagged(pytester):
    repo = project(pytester, {**DRAWS, **(TORCH if HAS_TORCH else {})})
    record(pytester, "--testlog-no-entropy")
    assert run_data(repo)["run"]["entropy"] == {"captured": False}
    assert not any("entropy" in r for r in records(repo).values())
    assert branch_file(repo, "entropy", "bin") is None
    code, _out, _err = replay(repo, "testlog")
    report = last_report(repo)
    assert code == 1
    flagged = flagged_reasons(report)
    assert set(flagged) == DRAWING
    # random.seed() and torch.seed() leave their global RNG in another state too: critical.
    rng_moved = {"test_global_random_seed": "python", "test_torch_seed": "torch"}
    for name, reasons in flagged.items():
        first = f"RNG state mismatch: {rng_moved[name]}" if name in rng_moved else \
            "output hash mismatch"
        assert reasons[0] == first and "did not record" in reasons[1], (name, reasons)
    assert flagged["test_os_urandom"] == ["output hash mismatch", "it drew OS entropy (1 draw), "
                                          "which the run did not record (--testlog-no-entropy "
                                          "or an older run)"]
    assert flagged["test_import_time_generator"][1] == (
        "collecting test_draws.py drew OS entropy (1 draw), which the run did not record")


# -- draws that differ --------------------------------------------------------------------

ONE_MORE = {"test_more.py": '''\
import os

SALT = os.urandom(4)                     # drawn at import: the collection's
if os.environ.get("IMPORT_ONE_MORE"):
    os.urandom(4)


def test_draws_once_more_on_replay(testlog):
    testlog.output("x", os.urandom(8))
    if os.environ.get("DRAW_ONE_MORE"):
        os.urandom(8)


def test_steady(testlog):
    testlog.output("x", os.urandom(8))
'''}


def test_a_test_that_draws_once_more_on_replay_is_flagged(pytester, monkeypatch):
    repo = project(pytester, ONE_MORE)
    record(pytester)
    monkeypatch.setenv("DRAW_ONE_MORE", "1")
    code, _out, _err = replay(repo, "testlog")
    report = last_report(repo)
    assert code == 1
    assert verdicts(report) == {"test_draws_once_more_on_replay": "moderate",
                                "test_steady": "verified"}
    assert flagged_reasons(report)["test_draws_once_more_on_replay"] == [
        "entropy draws differ: draw 2 (os.urandom, 8 bytes) is not in the record (1 recorded "
        "draw, 1 fed back); real entropy from there on"]
    errors = git(repo, "ls-tree", "--name-only", "testlog", "errors/").split()
    log = git(repo, "show", f"testlog:{next(p for p in errors if 'replayerrors.log' in p)}")
    assert "EntropyDrawsDiffer" in log
    entry = next(t["entropy"] for t in report["tests"] if "once_more" in t["test_name"])
    assert (entry["asked"], entry["fed"], entry["fed_back"], entry["recorded"]["draws"]) == \
        (2, 1, True, 1)
    schema = json.loads((Path(__file__).resolve().parents[1] / "docs" / "schemas" /
                         "replay.schema.json").read_text())
    item = schema["properties"]["report"]["oneOf"][1]["properties"]["tests"]["items"]
    for test in report["tests"]:            # the report's shape is the documented one
        jsonschema.Draft202012Validator(item).validate(test)


def test_a_module_that_draws_once_more_at_import_flags_each_of_its_tests(pytester, monkeypatch):
    repo = project(pytester, ONE_MORE)
    record(pytester)
    determinism = json.loads(branch_file(repo, "determinism", "json"))
    assert determinism["entropy"]["collection"]["test_more.py"]["draws"] == 1
    monkeypatch.setenv("IMPORT_ONE_MORE", "1")
    code, _out, _err = replay(repo, "testlog")
    report = last_report(repo)
    assert code == 1
    reason = ("entropy draws differ: collecting test_more.py: draw 2 (os.urandom, 4 bytes) is "
              "not in the record (1 recorded draw, 1 fed back); real entropy from there on")
    assert flagged_reasons(report) == {"test_draws_once_more_on_replay": [reason],
                                       "test_steady": [reason]}
    assert set(verdicts(report).values()) == {"moderate"}


# -- what is kept apart ----------------------------------------------------------------------

KEPT_APART = {"test_apart.py": '''\
import os

import pytest


@pytest.mark.testlog_no_entropy
def test_key_material(testlog):
    testlog.output("x", os.urandom(16))


def test_megabytes(testlog):
    testlog.output("x", os.urandom(100_000))


def test_small(testlog):
    testlog.output("x", os.urandom(4))
'''}


def test_a_marked_test_and_one_past_the_limit_keep_no_bytes_and_are_flagged(pytester):
    repo = project(pytester, KEPT_APART)
    record(pytester)
    by_name = records(repo)
    assert "entropy" not in by_name["test_key_material"]
    big = by_name["test_megabytes"]["entropy"]
    assert big["replayable"] is False and big["bytes"] == 100_000 and big["draws"] == 1
    side = branch_file(repo, "entropy", "bin")
    assert chunk_names(side) == ["test_apart.py::test_small"] and len(side) < 1000
    assert run_data(repo)["run"]["warnings"] == [
        "OS entropy above the 65536-byte limit was kept as a digest only, not replayable: "
        "test_apart.py::test_megabytes"]
    code, _out, _err = replay(repo, "testlog")
    report = last_report(repo)
    assert code == 1
    assert verdicts(report) == {"test_key_material": "moderate", "test_megabytes": "moderate",
                                "test_small": "verified"}
    reasons = flagged_reasons(report)
    assert reasons["test_key_material"] == ["output hash mismatch"]
    assert "above the limit and not kept" in reasons["test_megabytes"][1]


def test_a_hand_edited_side_file_stops_the_replay_with_one_line(pytester):
    repo = project(pytester, ONE_MORE)
    record(pytester)
    side = branch_file(repo, "entropy", "bin")
    artifact = event_at(repo)["artifact"]
    path = artifact.replace("__run.jsonl", "__entropy.bin")
    tampered = side[:-2] + bytes([side[-2] ^ 1]) + side[-1:]
    run_file = git_bytes(repo, "show", f"testlog:{artifact}")
    with open_store(repo, sign_key=False) as store:
        commit_event(store, {path: tampered, artifact: run_file}, event="TEST_SUITE_EXECUTED",
                     artifact=artifact,
                     verdict="PASS", summary="TEST_SUITE_EXECUTED tests PASS 2 passed 0 failed",
                     trailers={"Testlog-Suite": "tests"})
    code, _out, err = replay(repo, "testlog")
    assert code == 1
    assert "do not match their digest (edited by hand?)" in err
    assert len(err.strip().splitlines()) == 1
    code, out, err = cli("-C", str(repo), "verify", "--allow-unsigned", "--deep")
    assert code == 1
    assert "the draws of ('test_more.py::test_steady', 1) do not match their digest" in out + err
    assert cli("-C", str(repo), "verify", "--allow-unsigned")[0] == 0   # not deep: unread


# -- xdist ---------------------------------------------------------------------------------

XDIST = {f"test_{m}.py": f'''\
import os

import numpy as np

INPUTS = np.random.default_rng().random(4)


def test_{m}1(testlog):
    testlog.output("inputs", INPUTS)
    testlog.output("own", os.urandom(8))


def test_{m}2(testlog):
    testlog.output("inputs", INPUTS)


def test_{m}3(testlog):
    testlog.output("inputs", INPUTS)
    testlog.output("own", np.random.default_rng().random(2))


def test_{m}4(testlog):
    testlog.output("inputs", INPUTS)
''' for m in "ab"}


def test_xdist_records_and_replays_the_same(pytester):
    repo = project(pytester, XDIST)
    record(pytester, "-n", "2")
    by_name = records(repo)
    assert {r["worker"] for r in by_name.values()} == {"gw0", "gw1"}
    for module in "ab":               # every worker imported the module with the same draws
        hashes = {by_name[f"test_{module}{i}"]["outputs"]["values"]["inputs"]["hash"]
                  for i in range(1, 5)}
        assert len(hashes) == 1
    determinism = json.loads(branch_file(repo, "determinism", "json"))
    assert set(determinism["entropy"]["collection"]) >= {"test_a.py", "test_b.py"}
    assert sorted(n for n in chunk_names(branch_file(repo, "entropy", "bin"))
                  if "::" not in n) == sorted(determinism["entropy"]["collection"])
    assert {n for n, r in by_name.items() if "entropy" in r} == {
        "test_a1", "test_a3", "test_b1", "test_b3"}
    code, out, _err = replay(repo, "testlog")
    assert code == 0, out
    assert set(verdicts(last_report(repo)).values()) == {"verified"}


# -- outside the branch: --testlog-out and --from-dir, export, verify ------------------------

def test_a_run_written_to_a_directory_replays_from_it_and_export_and_verify_take_the_side_file(
        pytester, tmp_path):
    from testlog.cli import main
    repo = project(pytester, ONE_MORE)
    pytester.runpytest_subprocess(*BASE, "--testlog-out=logs")
    side = sorted((repo / "logs" / "runs").glob("*__entropy.bin"))
    assert len(side) == 1 and b'"test":"test_more.py::test_steady"' in side[0].read_bytes()
    determinism = json.loads(next((repo / "logs" / "determinism").glob("*.json")).read_bytes())
    assert {e["test_name"].split("::")[1]: e["entropy"]["draws"]
            for e in determinism["tests"] if "entropy" in e} == {
        "test_draws_once_more_on_replay": 1, "test_steady": 1}
    code, out, _err = replay(repo, "--from-dir", str(repo / "logs"))
    assert code == 0, out
    record(pytester)
    exported = tmp_path / "exported"
    assert main(["-C", str(repo), "export", "testlog", "-o", str(exported)]) == 0
    assert [p.name for p in (exported / "runs").glob("*__entropy.bin")] == [side[0].name]
    assert main(["-C", str(repo), "verify", "--allow-unsigned", "--deep"]) == 0
