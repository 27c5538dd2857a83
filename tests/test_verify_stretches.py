"""verify on every core: a long chain is cut into stretches checked in forked processes, and
the report is the one a single process writes, failures in every stretch named in the order
of the chain. The pieces that make it fast keep their exact meaning: commits read ahead
(ObjectStream.read_many), run-file lines parsed in one go (branchjson.loads_each), signatures
taken out of their armor before pysequoia reads them (dearmored), git diff-tree in chunks."""
from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

import pysequoia
import pytest

import gitstore.treecheck as treecheck
from gitstore import ObjectStream, TrustedCerts, unsafe_trees
from gitstore.verify import dearmored

import testlog.audit.stretches as stretches
import testlog.parallel as parallel
from testlog.audit import report as rp
from testlog.audit.commitchecks import Policy
from testlog.audit.verifier import verify_log
from testlog.core import branchjson
from tests.audit_helpers import keys_file, record_run  # noqa: F401 (fixtures)
from tests.fixtures import git
from tests.store_helpers import open_store
from tests.test_treecheck import blob, crafted_tip
from tests.waiting import wait_until

DAY = date(2026, 3, 1)


@pytest.fixture
def mixed_chain(repo: Path, gpg_key: str) -> Path:
    """23 runs: every fifth unsigned, so that strict verify fails in each stretch of five."""
    for k in range(23):
        with open_store(repo, sign_key=False if k % 5 == 2 else gpg_key) as store:
            record_run(store, DAY + timedelta(days=k // 4), ("unit", "e2e")[k % 2], seed=k)
    return repo


def rendered(repo: Path, keys: Path, monkeypatch, stretch: int, cores: int,
             pids: Path | None = None) -> str:
    monkeypatch.setattr(stretches, "STRETCH", stretch)
    monkeypatch.setattr(parallel, "usable_cores", lambda: cores)
    if pids is not None:
        check = stretches.check_stretch

        def noting_pid(*args, **kwargs):      # which process checked a stretch
            (pids / str(os.getpid())).touch()
            return check(*args, **kwargs)
        monkeypatch.setattr(stretches, "check_stretch", noting_pid)
    with open_store(repo, sign_key=False) as store:
        trusted = TrustedCerts.from_armored(keys.read_bytes())
        return "\n".join(rp.render(r) for r in verify_log(store, Policy(trusted, True)))


def test_stretches_on_two_cores_report_what_one_process_reports(
        mixed_chain: Path, keys_file: Path, monkeypatch, tmp_path: Path):
    whole = rendered(mixed_chain, keys_file, monkeypatch, stretch=1_000, cores=1)
    assert "verify: FAILED (5 failure(s))" in whole
    assert whole.count("unsigned commit (not signed by a trusted key") == 5
    pids = tmp_path / "pids"
    pids.mkdir()
    assert rendered(mixed_chain, keys_file, monkeypatch, stretch=5, cores=2, pids=pids) == whole
    assert str(os.getpid()) not in {p.name for p in pids.iterdir()}      # forked workers ran it
    assert len(list(pids.iterdir())) >= 1
    assert rendered(mixed_chain, keys_file, monkeypatch, stretch=5, cores=1) == whole


def test_a_clean_chain_in_stretches_verifies_and_is_remembered(
        repo: Path, gpg_key: str, keys_file: Path, monkeypatch):
    for k in range(12):
        with open_store(repo, sign_key=gpg_key) as store:
            record_run(store, DAY + timedelta(days=k), seed=k)
    out = rendered(repo, keys_file, monkeypatch, stretch=3, cores=2)
    assert "verify: OK" in out
    assert "commits (one linear chain)              12       0" in out
    with open_store(repo, sign_key=False) as store:     # the tip is remembered: --since last
        trusted = TrustedCerts.from_armored(keys_file.read_bytes())
        again = verify_log(store, Policy(trusted), "last")
    assert again[0].ok and again[0].mode.startswith("incremental after")


@pytest.mark.parametrize("count, expected", [
    (0, [(0, 0)]), (999, [(0, 999)]), (1_000, [(0, 500), (500, 1_000)]),
    (1_249, [(0, 500), (500, 1_249)]), (1_250, [(0, 500), (500, 1_000), (1_000, 1_250)]),
])
def test_cuts_depend_on_the_count_alone(count: int, expected: list[tuple[int, int]]):
    assert stretches.cuts(count) == expected


def test_a_stretch_that_raises_raises_in_the_caller(monkeypatch):
    def task(index: int) -> int:
        if index == 3:
            raise ValueError("stretch 3 failed")
        return index * 10
    monkeypatch.setattr(parallel, "usable_cores", lambda: 2)
    with parallel.ordered_results(task, 3) as results:
        assert list(results) == [0, 10, 20]
    with pytest.raises(ValueError, match="stretch 3 failed"):
        with parallel.ordered_results(task, 5) as results:
            list(results)


# -- the pieces ---------------------------------------------------------------------------------

def test_read_many_answers_in_order_with_missing_names_and_more_than_a_pipe_holds(
        repo: Path, gpg_key: str):
    with open_store(repo, sign_key=False) as store:
        shas = [store.write({f"runs/{k}.json": b"{}" * k}, f"run {k}") for k in range(1, 4)]
    long_missing = "HEAD:" + "x/" * 3_000 + "nothing"          # 6 KB: past the window alone
    names = [*shas, "0" * 40, long_missing, *[f"{shas[-1]}:runs/{k}.json" for k in (1, 2, 3)]] * 40
    with ObjectStream(repo) as stream:
        answers = list(stream.read_many(names))
        assert [name for name, _ in answers] == names
        assert answers[3][1] is None and answers[4][1] is None
        assert [a[1][2] if a[1] else None for a in answers[5:8]] == [b"{}", b"{}{}", b"{}{}{}"]
        assert answers[0][1] is not None and answers[0][1][1] == "commit"
        assert stream.read(f"{shas[0]}:runs/1.json") == answers[5][1]    # usable after it


LINES = [
    b'{"test_name":"t::a","seed":1}', b'  {"test_name":"t::b"}', b'{"test_name":"t::c"}  ',
    b'{"a":', b'1}', b'1,2', b'[1', b'2]', b'"\xc3\xa9t\xc3\xa9"', b'{"k":"\\ud800"}',
    b'{"k":"\\ud83d\\ude00"}', b'\x00{}', b'{\x00}', b'1\x00', b'', b'   ', b'nul', b'null',
    b'\xef\xbb\xbf{"bom":1}', b'{"t":"\xff"}', b'[' * 250 + b']' * 250, b'[' * 150 + b']' * 150,
    b'[' * 5_000 + b']' * 5_000, b'{"a":' * 3_000 + b'1' + b'}' * 3_000, b'{"n":12}', b'12', b'-0.5e3', b'{"x":[1,2,{"y":true}]}\t', b'{"a":1}{"b":2}', b'"\t"',
]


@pytest.mark.parametrize("lines", [
    LINES, [line for line in LINES if line.isascii()], LINES[3:5], [], *([line] for line in LINES)])
def test_loads_each_gives_exactly_what_loads_gives(lines: list[bytes]):
    def one(line: bytes) -> object:
        try:
            return branchjson.loads(line)
        except branchjson.BranchJSONError as exc:
            return ("error", str(exc), exc.syntax)

    def each(value: object) -> object:
        if isinstance(value, branchjson.BranchJSONError):
            return ("error", str(value), value.syntax)
        return value
    assert [each(v) for v in branchjson.loads_each(lines)] == [one(line) for line in lines]


def test_dearmored_signatures_check_as_the_armored_ones(repo: Path, gpg_key: str,
                                                         keys_file: Path):
    with open_store(repo, sign_key=gpg_key) as store:
        record_run(store, DAY)
    raw = git(repo, "cat-file", "commit", "testlog")
    head, _, body = raw.partition("\n\n")
    armored = "\n".join(line[7:] if line.startswith("gpgsig ") else line[1:]
                        for line in head.splitlines()
                        if line.startswith(("gpgsig ", " "))).encode()
    payload = ("\n".join(line for line in head.splitlines()
                         if not line.startswith(("gpgsig ", " "))) + "\n\n" + body).encode()
    binary = dearmored(armored)
    assert binary is not None and binary != armored
    assert bytes(pysequoia.Sig.from_bytes(binary)) == bytes(pysequoia.Sig.from_bytes(armored))
    trusted = TrustedCerts.from_armored(keys_file.read_bytes())
    assert trusted.check(payload, armored).status == "good"
    assert trusted.check(payload + b"x", armored).status == "bad"
    with_header = armored.replace(b"-----\n\n", b"-----\nComment: made by hand\n\n", 1)
    assert dearmored(with_header) is None                       # pysequoia reads that form
    assert trusted.check(payload, with_header).status == "good"
    broken = armored.replace(b"\n=", b"\n!", 1)
    assert dearmored(broken) is None
    assert trusted.check(payload, broken).status in ("bad", "good")   # pysequoia's judgement


def test_unsafe_trees_in_chunks_of_diff_tree_find_the_same(repo: Path, monkeypatch):
    with open_store(repo, sign_key=False) as store:
        for k in range(4):
            store.write({f"runs/{k}.json": b"{}"}, f"before {k}")
    sha = crafted_tip(repo, (b"120000", b"link", blob(repo, b"/etc")))
    whole = unsafe_trees(repo, [sha])
    assert [(p.path, p.problem) for p in whole] == [
        ("link", "a symlink where a file or folder is expected")]
    monkeypatch.setattr(treecheck, "DIFF_COMMITS", 1)
    assert unsafe_trees(repo, [sha]) == whole
    monkeypatch.setattr(treecheck, "DIFF_COMMITS", 2)
    assert unsafe_trees(repo, [sha]) == whole
    assert unsafe_trees(repo, [sha], [sha]) == []


INTERRUPTED = """
import os, sys
from testlog.parallel import ordered_results
ready = sys.argv[1]
never, _keep_open = os.pipe()             # nothing is ever written: a read blocks for good

def task(index):
    open(os.path.join(ready, str(os.getpid())), "w").close()
    os.read(never, 1)                     # the work a Ctrl-C cuts short
    return index

try:
    with ordered_results(task, 4, processes=2) as results:
        print(list(results))
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_a_ctrl_c_stops_the_workers_without_a_traceback(tmp_path: Path):
    import signal
    import subprocess
    import sys
    ready = tmp_path / "ready"
    ready.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(ready)], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        wait_until(lambda: len(list(ready.iterdir())) == 2 or proc.poll() is not None,
                   "both workers have started")
        assert len(list(ready.iterdir())) == 2
        os.killpg(proc.pid, signal.SIGINT)    # as a terminal does: the whole process group
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert (proc.returncode, out.strip()) == (130, "interrupted"), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
