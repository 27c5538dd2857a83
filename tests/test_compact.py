"""The compact run format round-trips to the spec record byte for byte: every record the
recorder signed is rebuilt exactly (its canonical JSON and its `signature`), from a unit run
that uses every field a line can carry and from real pytest runs read back with the CLI;
the same run gives the same bytes; a damaged file is one line, never a wrong record."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from testlog.core.canonical import canonical_json, dumps_normal, record_signature
from testlog.core.compact import CompactError, iter_records, parse_compact, records_digest
from testlog.core.hashing import describe_value
from testlog.core.records import Failure, TestOutcome, attempt_entry, build_record
from testlog.core.runfiles import Harvest, RecordBook, run_bundle
from testlog.core.seeds import derive_seed
from testlog.core.spec_files import spec_files
from testlog.core.timefmt import IsoClock
from testlog.errors import TestlogError
from testlog.rng import seeded_digest
from testlog.store.runs import run_data
from tests.fixtures import git, make_repo
from tests.recorder_helpers import pytest_env, unit_context

PASSED = {"setup": ("passed", False), "call": ("passed", False), "teardown": ("passed", False)}
FAILED = {"setup": ("passed", False), "call": ("failed", False), "teardown": ("passed", False)}
SKIPPED = {"setup": ("skipped", False)}


def seeded(name: str, seed: int, rngs: tuple[str, ...] = ("python", "numpy")) -> dict[str, str]:
    found = {rng: seeded_digest(rng, seed) for rng in rngs}
    assert all(found.values()), found
    return {k: str(v) for k, v in found.items()}


def capture(nodeid: str, *, seed: int | None = None, before: dict[str, str] | None = None,
            after: dict[str, str] | None = None, outputs: dict | None = None,
            inputs: dict | None = None, start: int = 10, end: int = 2_345_678) -> dict:
    seed = derive_seed(42, nodeid) if seed is None else seed
    before = seeded(nodeid, seed) if before is None else before
    return {"nodeid": nodeid, "seed": seed, "worker": None, "before": before,
            "after": before if after is None else after, "start_ns": start, "end_ns": end,
            "cpu_ns": 5, "wall_ns": 1_761_900_000_500_000_000 + start, "rss": 2**20,
            "errors": [], "inputs": inputs or {}, "outputs": outputs or {}}


def varied() -> list[tuple[TestOutcome, dict | None]]:
    """(outcome, capture) pairs using every field a line can carry."""
    ids = [f"tests/test_v.py::test_{n}" for n in range(10)] + ["tests/test_v.py::test_ü[α-β]"]
    moved = {"python": "f" * 64, "numpy": "e" * 64}
    return [
        (TestOutcome(ids[0], PASSED, order=0), capture(ids[0])),                   # nothing moved
        (TestOutcome(ids[1], PASSED, order=1), capture(ids[1], after=moved)),      # both moved
        (TestOutcome(ids[2], PASSED, order=2),                                     # numpy gone
         capture(ids[2], after={"python": "d" * 64})),
        (TestOutcome(ids[3], PASSED, order=3), capture(ids[3], seed=7,            # seed of its own
                                                       before=seeded(ids[3], 7))),
        (TestOutcome(ids[4], PASSED, order=4),                                     # not the seeded
         capture(ids[4], before={"python": "a" * 64, "numpy": seeded(ids[4],          # state
                                                                     derive_seed(42, ids[4]))["numpy"]})),
        (TestOutcome(ids[5], PASSED, order=5),
         capture(ids[5], outputs={"loss": describe_value(0.125), "name": describe_value("x"),
                                  "big": describe_value(list(range(50)))},
                 inputs={"rounds": describe_value(3)})),
        (TestOutcome(ids[6], FAILED, [Failure("call", "assert 1 == 2", "AssertionError")],
                     order=6, captured={"call/stdout": "1" * 64, "setup/log": "2" * 64},
                     subtests={"passed": 2, "failed": 1}),
         capture(ids[6], inputs={"data": describe_value(b"\x00\x01")})),
        (TestOutcome(ids[7], PASSED, order=7,
                     attempts=[attempt_entry("FAIL", Failure("call", "boom", "AssertionError",
                                                             attempt=1), {"call/stdout": "3" * 64})],
                     reruns=1,
                     benchmark={"min_ms": 1.0, "median_ms": 1.5, "p95_ms": 2.0, "rounds": 9,
                                "name": "test_7"}),
         capture(ids[7])),
        (TestOutcome(ids[8], SKIPPED, skip_reason="no gpu", order=8), capture(ids[8])),
        (TestOutcome(ids[9], PASSED, order=9), None),                       # worker died
        (TestOutcome(ids[10], PASSED, order=10), capture(ids[10], start=0, end=0)),
    ]


def signed_records(ctx, pairs, determinism: str = "seeded") -> list[bytes]:
    """What the recorder signs for each test, straight from build_record (in name order)."""
    clock = IsoClock()
    built = [build_record(dataclasses.replace(outcome), cap, base_seed=ctx.base_seed,
                          environment=ctx.record_environment, determinism=determinism,
                          clock=clock, redact=ctx.redact)[0] for outcome, cap in pairs]
    return [dumps_normal(r) for r in sorted(built, key=lambda r: (r["test_name"], r["order"]))]


def bundle_of(pairs, derive=seeded_digest, reseed: bool = True):
    ctx = dataclasses.replace(unit_context(), derive=derive, reseed=reseed)
    harvest = Harvest(finished_ns=1_761_900_001_000_000_000)
    for outcome, cap in pairs:
        harvest.outcomes.append(dataclasses.replace(outcome))
        if cap is not None:
            harvest.add_captures([dict(cap)])
    return ctx, run_bundle(ctx, harvest)


@pytest.mark.parametrize("reseed", [True, False], ids=["seeded", "states-stored"])
def test_every_record_is_rebuilt_byte_for_byte(reseed: bool):
    pairs = varied()
    ctx, bundle = bundle_of(pairs, reseed=reseed)
    run = parse_compact(bundle.files[bundle.artifact], bundle.artifact)
    rebuilt = [dumps_normal(r) for r in iter_records(run, seeded_digest)]
    expected = signed_records(ctx, pairs, "seeded" if reseed else "state-stored")
    assert rebuilt == expected
    assert records_digest([json.loads(r)["signature"] for r in rebuilt]) == run.records_sha256
    if reseed:            # the seeded states are stored as the fact that they derive
        assert sorted(run.defaults.derived) == ["numpy", "python"]
        lines = [json.loads(raw) for raw in run.lines]
        assert sum("rng_state" in line for line in lines) == 1        # test_4: not the seeded one
    else:
        assert run.defaults.derived == frozenset()


def test_the_full_format_rendered_for_export_holds_the_signed_records():
    pairs = varied()
    ctx, bundle = bundle_of(pairs)
    determinism = json.loads(bundle.files[bundle.artifact.replace("runs/", "determinism/")
                                          .replace("__run.jsonl", "__determinism.json")])
    files = spec_files(bundle.artifact, bundle.files[bundle.artifact], determinism, seeded_digest)
    run_json = files[bundle.artifact.removesuffix("l")]
    expected = signed_records(ctx, pairs)
    assert run_json.startswith(b'{"records":[' + b",".join(expected) + b'],"run":')
    data = json.loads(run_json)
    assert all(r["signature"] == record_signature(r) for r in data["records"])
    timing = json.loads(files[bundle.artifact.replace("runs/", "timing/")
                              .replace("__run.jsonl", "__timing.json")])
    assert [t["test_name"] for t in timing["tests"]] == [r["test_name"] for r in data["records"]]
    det = json.loads(files[bundle.artifact.replace("runs/", "determinism/")
                           .replace("__run.jsonl", "__determinism.json")])
    assert [(t["seed"], t["rng_state"]) for t in det["tests"]] == \
        [(r["seed"], r["rng_state"]) for r in data["records"]]


def test_the_same_run_gives_the_same_bytes():
    first = bundle_of(varied())[1].files
    second = bundle_of(varied())[1].files
    assert first == second


def test_a_record_book_fed_in_batches_writes_what_one_batch_writes():
    """The writer process builds records as batches arrive, in any completion order."""
    pairs = varied()
    ctx = dataclasses.replace(unit_context(), derive=seeded_digest)
    book = RecordBook(ctx)
    for outcome, cap in reversed(pairs):          # captures before outcomes, reversed order
        book.add([], [dict(cap)] if cap else [])
        book.add([dataclasses.replace(outcome)], [])
    batched = run_bundle(ctx, Harvest(finished_ns=1_761_900_001_000_000_000), book)
    assert batched.files[batched.artifact] == bundle_of(pairs)[1].files[batched.artifact]


def test_without_a_deriver_nothing_is_derived_and_the_records_still_rebuild():
    pairs = varied()
    ctx, bundle = bundle_of(pairs, derive=None)
    run = parse_compact(bundle.files[bundle.artifact], bundle.artifact)
    assert run.defaults.derived == frozenset()
    assert [dumps_normal(r) for r in iter_records(run, lambda name, seed: None)] == \
        signed_records(ctx, pairs)


# -- damaged files --------------------------------------------------------------------------

def damaged(data: bytes) -> str:
    with pytest.raises(TestlogError) as raised:
        run_data(data, "runs/20251101__unit__run.jsonl", "the run")
    message = str(raised.value)
    assert "\n" not in message
    return message


def test_a_damaged_file_is_one_line_never_a_wrong_record():
    good = bundle_of(varied())[1]
    data = good.files[good.artifact]
    header, *lines = data.split(b"\n")
    assert "the header is not valid JSON" in damaged(b"{" + data)
    assert "not a compact run file" in damaged(b'{"format":"other"}\n')
    assert "counts 11 tests, the file holds 10" in damaged(b"\n".join([header, *lines[1:]]))
    edited = json.loads(lines[0])
    edited["status"] = "PASS" if edited["status"] != "PASS" else "FAIL"
    assert "differ from those recorded" in damaged(
        b"\n".join([header, canonical_json(edited), *lines[1:]]))
    no_rng = json.loads(lines[0])
    no_rng["rng"] = ["mystery"]
    assert "neither stored nor derivable" in damaged(
        b"\n".join([header, canonical_json(no_rng), *lines[1:]]))
    assert "not an object" in damaged(b"\n".join([header, b"[1]", *lines[1:]]))
    assert "nested more than" in damaged(b"\n".join([header, b"[" * 5000 + b"]" * 5000,
                                                     *lines[1:]]))
    newer = json.loads(header)
    newer["schema_version"] = 99
    assert "99" in damaged(b"\n".join([canonical_json(newer), *lines]))
    with pytest.raises(CompactError):
        list(iter_records(parse_compact(b"\n".join([header, b'{"seed":"x"}', *lines[1:]]),
                                        "x"), seeded_digest))


# -- real runs, read back with the command line -----------------------------------------------

PROJECT = {
    "tests/test_mix.py": '''\
import random

import numpy as np
import pytest


def test_draw(testlog):
    testlog.output("x", random.random())
    testlog.output("a", np.random.rand(3))


@pytest.mark.parametrize("word", ["a", "ü", "x y"])
def test_param(word, testlog):
    print("printed", word)
    testlog.output("w", word)


def test_fails():
    assert random.random() > 2


@pytest.mark.skip(reason="not today")
def test_skipped():
    pass


def test_own_rng():
    rng = np.random.default_rng(1)
    assert rng.random() < 1
''',
}


def git_testlog(repo: Path, env: dict[str, str], *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "testlog", *args], cwd=repo, env=env,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("reseed", [True, False], ids=["seeded", "no-reseed"])
def test_a_real_run_reads_back_as_the_records_the_recorder_signed(tmp_path: Path, sandbox,
                                                                  reseed: bool):
    env = pytest_env(sandbox)
    repo = make_repo(tmp_path / "proj", PROJECT)
    args = ["--testlog", "--testlog-no-sign", "--testlog-seed=11"]
    out_dir = tmp_path / "out"
    if not reseed:
        args.append("--testlog-no-reseed")
    for extra in ([], [f"--testlog-out={out_dir}"]):
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p",
                              "no:cacheprovider", *args, *extra, "tests"], cwd=repo, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 1, run.stdout + run.stderr
    shown = git_testlog(repo, env, "show", "testlog", "--records").splitlines()
    records = [json.loads(line) for line in shown]
    assert len(records) == 7
    assert all(r["signature"] == record_signature(r) for r in records)
    assert [line.encode() for line in shown] == [dumps_normal(r) for r in records]
    artifact = json.loads(git(repo, "log", "-1", "--format=%(trailers:key=Testlog-Event-Record,"
                                              "valueonly)", "testlog"))["artifact"]
    raw = subprocess.run(["git", "show", f"testlog:{artifact}"], cwd=repo, capture_output=True,
                         check=True).stdout
    compact = parse_compact(raw, artifact)
    assert records_digest([r["signature"] for r in records]) == compact.records_sha256
    git_testlog(repo, env, "export", "testlog", "-o", str(tmp_path / "export"))
    exported = json.loads((tmp_path / "export" / artifact.removesuffix("l")).read_bytes())
    assert exported["records"] == records
    assert run_data(raw, artifact, artifact)["records"] == records
    written = json.loads(next((out_dir / "runs").glob("*__run.json")).read_bytes())
    assert [(r["test_name"], r["seed"], r["rng_state"], r["status"])
            for r in written["records"]] == \
        [(r["test_name"], r["seed"], r["rng_state"], r["status"]) for r in records]
    assert all(r["signature"] == record_signature(r) for r in written["records"])


def test_the_same_harvest_gives_the_same_bytes_under_any_hash_seed():
    """Records built in one batch come in arrival order, never in a set's hash order: that
    order picks the first record, which decides the RNGs stored as derived (test_4 here holds
    a python state that is not the seeded one)."""
    script = ("import hashlib, sys\nfrom tests.test_compact import bundle_of, varied\n"
              "pairs = varied()\npairs.insert(0, pairs.pop(4))\n"
              "_, bundle = bundle_of(pairs)\n"
              "print(hashlib.sha256(bundle.files[bundle.artifact]).hexdigest())\n")
    root = Path(__file__).resolve().parents[1]
    digests = {subprocess.run([sys.executable, "-c", script], cwd=root, check=True,
                              capture_output=True, text=True,
                              env={**pytest_env({}), "PYTHONHASHSEED": str(seed)}).stdout
               for seed in range(12)}
    assert len(digests) == 1, digests
