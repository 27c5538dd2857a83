"""Concurrent writers in one repository never lose a write, and never wedge on a lock."""
from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dulwich.objects import Blob

from gitstore import GitStoreError

from tests import store_workers
from tests.fixtures import git
from tests.store_helpers import assert_linear, common_dir, fsck, object_files, open_store
from tests.waiting import wait_until

SPAWN = multiprocessing.get_context("spawn")


def run_processes(target, args_for: list[tuple]) -> None:
    """Start one process per argument tuple, release them together, and require success."""
    start = SPAWN.Event()
    procs = [SPAWN.Process(target=target, args=(*args, start)) for args in args_for]
    for proc in procs:
        proc.start()
    start.set()
    for proc in procs:
        proc.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def loose_count(repo: Path) -> int:
    return int(git(repo, "count-objects").split()[0])


@pytest.mark.slow
def test_eight_processes_fifty_writes_each_lose_nothing(repo: Path):
    loose_before = loose_count(repo)
    run_processes(store_workers.write_many,
                  [(str(repo), w, 50, False) for w in range(8)])
    with open_store(repo, sign_key=False) as store:
        files = store.paths("w")
        ledger = store.read("ledger/all.ndjson").decode().splitlines()
        assert len(store.history()) == 400
    assert files == sorted(f"w{w}/{i:03d}.txt" for w in range(8) for i in range(50))
    assert sorted(json.dumps(json.loads(x), sort_keys=True) for x in ledger) == sorted(
        json.dumps({"i": i, "worker": w}, sort_keys=True) for w in range(8) for i in range(50))
    assert_linear(repo, 400)
    fsck(repo)
    # Packing ran along the way: only the writes since the last pack left loose objects
    # (a commit, a root tree, a w<N>/ tree, ledger/ tree, two blobs).
    since_pack = int((common_dir(repo) / "testlog" / "writes-since-pack").read_text().split()[0])
    assert since_pack < 100
    assert loose_count(repo) - loose_before <= 6 * since_pack
    assert any(name.endswith(".pack") for name in object_files(repo))


def test_signed_concurrent_writes_each_verify(repo: Path, gpg_key: str):
    run_processes(store_workers.write_many, [(str(repo), w, 3, gpg_key) for w in range(3)])
    for sha in assert_linear(repo, 9):
        git(repo, "verify-commit", sha)
    fsck(repo)


def test_processes_adding_the_same_objects_at_once(repo: Path):
    common = str(common_dir(repo))
    run_processes(store_workers.same_objects, [(common, 300) for _ in range(4)])
    for i in (0, 150, 299):
        blob = Blob.from_string(f"shared object {i}\n".encode() * 50)
        assert git(repo, "cat-file", "-p", blob.id.decode()) == f"shared object {i}\n" * 50
    assert not [f for f in object_files(repo) if f.endswith(".lock")]
    fsck(repo)


def test_leftover_object_lock_neither_blocks_a_write_nor_survives_packing(repo: Path):
    """dulwich's add_object leaves `<sha>.lock` when killed; it must not wedge that object."""
    blob = Blob.from_string(b"payload\n")
    sha = blob.id.decode()
    lock = common_dir(repo) / "objects" / sha[:2] / f"{sha[2:]}.lock"
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_bytes(b"")
    os.utime(lock, (time.time() - 7200, time.time() - 7200))
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 1
        store.write({"a.txt": b"payload\n"}, "one")
        assert store.read("a.txt") == b"payload\n"
    assert not lock.exists()
    assert "bad sha1 file" not in fsck(repo)


def test_stale_ref_lock_left_by_a_killed_writer_is_broken(repo: Path):
    with open_store(repo, sign_key=False) as store:
        first = store.write({"a.txt": b"1"}, "one")
        lock = common_dir(repo) / "refs" / "heads" / "testlog.lock"
        lock.write_text("0" * 40 + "\n")
        os.utime(lock, (time.time() - 30, time.time() - 30))
        second = store.write({"b.txt": b"2"}, "two")
    assert not lock.exists()
    assert assert_linear(repo, 2) == [second, first]


def test_a_foreign_update_of_the_branch_is_built_upon_not_lost(repo: Path):
    with open_store(repo, sign_key=False) as store:
        first = store.write({"a.txt": b"1"}, "one")
        tree = git(repo, "rev-parse", f"{first}^{{tree}}").strip()
        foreign = git(repo, "commit-tree", tree, "-p", first, "-m", "by git").strip()
        git(repo, "update-ref", "refs/heads/testlog", foreign, first)
        assert store.swap_tip(first, foreign.encode()) is False     # stale compare-and-swap
        ours = store.write({"b.txt": b"2"}, "two")
    assert assert_linear(repo, 3) == [ours, foreign, first]


def test_waiting_for_the_write_lock_times_out_with_nothing_written(repo: Path):
    with open_store(repo, sign_key=False, lock_timeout=0.2) as store:
        store.write({"a.txt": b"1"}, "one")
        tip, objects = store.tip, object_files(repo)
        with open(os.path.join(store.state_dir, "write.lock"), "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)       # another writer of ours, mid-write
            with pytest.raises(GitStoreError, match="another writer of this log branch is running"):
                store.write({"b.txt": b"2"}, "two")
        assert store.tip == tip
    assert object_files(repo) == objects


def test_sigint_while_waiting_for_the_lock_writes_nothing(repo: Path):
    with open_store(repo, sign_key=False) as store:
        tip = store.write({"a.txt": b"1"}, "one")
        lock_path = os.path.join(store.state_dir, "write.lock")
        with open(lock_path, "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            child = subprocess.Popen([sys.executable, "-m", "tests.store_workers", str(repo)],
                                     cwd=Path(__file__).parents[1], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
            assert int(child.stdout.readline()) == child.pid
            wait_until_open(child.pid, lock_path)
            child.send_signal(signal.SIGINT)
            _, err = child.communicate(timeout=60)
        assert child.returncode != 0 and "KeyboardInterrupt" in err
        assert store.tip == tip
        store.write({"b.txt": b"2"}, "two")       # the lock is free again
    assert "interrupted.txt" not in git(repo, "ls-tree", "-r", "--name-only", "testlog")


def wait_until_open(pid: int, path: str) -> None:
    """Block until process `pid` has `path` open (it is then inside the lock's wait loop)."""
    fd_dir = f"/proc/{pid}/fd"

    def has_it_open() -> bool:
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)) == path:
                    return True
            except FileNotFoundError:
                pass
        return False
    wait_until(has_it_open, f"process {pid} opens {path}")
