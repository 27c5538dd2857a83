"""The branch's objects stay packed as it grows, and packing never costs a write or a read."""
from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dulwich.objects import Blob

from gitstore import Append, LogStore
from gitstore.packing import (
    GEOMETRIC_FACTOR,
    MERGE_WINDOW_BYTES,
    MIN_LOOSE_BYTES,
    PACK_EVERY_WRITES,
    _pack_objects,
    pack_object_count,
    packs_to_merge,
)

from tests.fixtures import git
from tests.store_helpers import assert_linear, common_dir, fsck, open_store
from tests.waiting import running, wait_until


def loose_count(repo: Path) -> int:
    return int(git(repo, "count-objects").split()[0])


def pack_files(repo: Path) -> set[str]:
    pack_dir = common_dir(repo) / "objects" / "pack"
    return {name[:-5] for name in os.listdir(pack_dir) if name.endswith(".pack")}


def tracked_packs(repo: Path) -> list[str]:
    """The store's own list of the packs it made."""
    return (common_dir(repo) / "testlog" / "packs").read_text().split()


def write_runs(store: LogStore, first: int, count: int) -> list[str]:
    return [store.write({f"runs/{n:04d}.json": f'{{"n":{n}}}\n'.encode() * 30,
                         "ledger/runs.ndjson": Append(f'{{"n":{n}}}\n'.encode())}, f"run {n}")
            for n in range(first, first + count)]


def test_default_policy():
    assert (PACK_EVERY_WRITES, GEOMETRIC_FACTOR, MIN_LOOSE_BYTES) == (100, 2, 512 * 1024)


@pytest.mark.parametrize("sizes, merged", [
    ({}, []),
    ({"a": 100}, []),
    ({"big": 1000, "new": 10}, []),                        # already geometric
    ({"big": 1000, "mid": 300, "new": 100}, []),
    ({"big": 1000, "roll": 80, "new": 70}, ["new", "roll"]),
    ({"big": 1000, "roll": 450, "new": 70}, []),
    ({"big": 1000, "roll": 520, "new": 70}, ["big", "new", "roll"]),   # the roll-up caught up
    ({"a": 10, "b": 10, "c": 10, "d": 10}, ["a", "b", "c", "d"]),
    ({"big": 1000, "mid": 200, "s1": 20, "s2": 20}, ["s1", "s2"]),
])
def test_which_packs_merge(sizes: dict[str, int], merged: list[str]):
    assert sorted(packs_to_merge(sizes)) == merged


def test_writes_are_packed_and_packs_merged(repo: Path):
    loose_before = loose_count(repo)
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 2
        shas = write_runs(store, 0, 40)                     # 20 packs made along the way
        assert store.read("runs/0000.json", rev=shas[0]) == b'{"n":0}\n' * 30
        assert len(store.read("ledger/runs.ndjson").splitlines()) == len(shas)
    assert loose_count(repo) == loose_before, "every object of the branch is in a pack"
    assert 1 <= len(tracked_packs(repo)) <= 4, "merged geometrically"
    assert pack_files(repo) == set(tracked_packs(repo)), "merged packs were deleted"
    assert assert_linear(repo, len(shas)) == shas[::-1]
    fsck(repo)


def test_a_reader_opened_before_packs_were_merged_away_still_reads(repo: Path):
    with open_store(repo, sign_key=False) as writer, \
            open_store(repo, sign_key=False) as reader:
        writer.pack_every = 2
        first = write_runs(writer, 0, 4)
        assert reader.read("runs/0001.json", rev=first[1]).startswith(b'{"n":1}')   # packs cached
        cached = pack_files(repo)
        last = write_runs(writer, 4, 16)[-1]
        assert cached - pack_files(repo), "a pack the reader had open was merged and deleted"
        assert reader.read("runs/0001.json", rev=first[1]).startswith(b'{"n":1}')
        assert reader.read("runs/0019.json", rev=last).startswith(b'{"n":19}')
        assert len(reader.paths("runs/")) == 20


def test_users_own_gc_and_our_packing_coexist(repo: Path):
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 2
        write_runs(store, 0, 4)
        git(repo, "gc", "-q", "--prune=now")             # the user's gc repacks everything
        write_runs(store, 4, 17)
        assert store.read("runs/0000.json").startswith(b'{"n":0}')
    assert assert_linear(repo, 21)
    fsck(repo)


def test_a_bulk_write_goes_into_one_pack(repo: Path):
    loose_before = loose_count(repo)
    files = {f"bulk/{i // 100:02d}/{i:04d}.txt": f"file {i}\n".encode() for i in range(1200)}
    with open_store(repo, sign_key=False) as store:
        store.write(files, "bulk")
        assert store.read("bulk/11/1199.txt") == b"file 1199\n"
    assert loose_count(repo) == loose_before + 1           # only the commit is loose
    counts = [pack_object_count(str(common_dir(repo) / "objects" / "pack" / f"{p}.pack"))
              for p in tracked_packs(repo)]
    assert counts == [1200 + 12 + 1 + 1]                  # blobs, subtrees, bulk/, root
    fsck(repo)


def test_a_big_file_goes_straight_into_a_pack(repo: Path):
    loose_before = loose_count(repo)
    big = b"".join(b'{"line":%d}\n' % i for i in range(200_000))      # 2.6 MB
    with open_store(repo, sign_key=False) as store:
        store.write({"big.ndjson": big, "small.txt": b"s"}, "big")
        assert store.read("big.ndjson") == big
    assert loose_count(repo) == loose_before + 1
    assert len(tracked_packs(repo)) == 1, "counted among our packs, so merges include it"
    fsck(repo)


def test_packing_failure_does_not_fail_the_write(repo: Path):
    git(repo, "config", "pack.window", "not-a-number")     # makes git pack-objects fail
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 1
        with pytest.warns(RuntimeWarning, match="could not pack the log branch's objects"):
            sha = store.write({"a.txt": b"1"}, "one")
        assert store.tip == sha
        git(repo, "config", "--unset", "pack.window")
        store.write({"b.txt": b"2"}, "two")                 # packs what the failed run left
    assert tracked_packs(repo)
    fsck(repo)


def test_big_loose_objects_are_packed_before_the_write_count_is_reached(repo: Path):
    """Rewriting a large file on every write (an append-only log) must not pile up copies."""
    loose_before = loose_count(repo)
    incompressible = os.urandom(200 * 1024)
    with open_store(repo, sign_key=False) as store:
        for n in range(3):                                  # 3 x 200 KiB > MIN_LOOSE_BYTES
            store.write({f"blobs/{n}.bin": incompressible[n:] + incompressible[:n]}, f"big {n}")
    assert tracked_packs(repo), "the loose bytes, not the write count, triggered packing"
    assert loose_count(repo) == loose_before
    fsck(repo)


def test_leftovers_of_killed_writers_are_swept_once_old(repo: Path):
    pack_dir = common_dir(repo) / "objects" / "pack"
    pack_dir.mkdir(parents=True, exist_ok=True)
    old, young = time.time() - 7200, time.time()
    leftovers = {pack_dir / "tmp_pack_abc.pack": old, pack_dir / "pack-0123.pack": old,
                 common_dir(repo) / "objects" / "ab" / "tmp_obj_x": old,
                 pack_dir / "tmp_pack_new.pack": young}
    for path, stamp in leftovers.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"partial")
        os.utime(path, (stamp, stamp))
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 1
        store.write({"a.txt": b"1"}, "one")                # packing sweeps
    assert [p.name for p in leftovers if p.exists()] == ["tmp_pack_new.pack"]
    fsck(repo)


def wait_until_packed(repo: Path) -> None:
    counter = common_dir(repo) / "testlog" / "writes-since-pack"
    wait_until(lambda: counter.read_text().split() == ["0", "0"], "the detached packer packs")


def packer_pattern(repo: Path) -> str:
    return f"gitstore.backgroundpack.*{common_dir(repo)}"


def test_packing_is_detached_when_configured_and_one_packer_runs_at_a_time(repo: Path):
    git(repo, "config", "testlog.packInBackground", "true")    # the default outside this suite
    state = common_dir(repo) / "testlog"
    state.mkdir(parents=True, exist_ok=True)
    loose_before = loose_count(repo)
    with open_store(repo, sign_key=False) as store:
        assert store.pack_in_background
        store.pack_every = 3
        with open(state / "pack.lock", "a") as busy:        # "another packer is at work"
            fcntl.flock(busy, fcntl.LOCK_EX)
            write_runs(store, 0, 3)                         # due: the packer starts, sees busy
            wait_until(lambda: not running(packer_pattern(repo)), "the busy packer gives up")
            assert loose_count(repo) > loose_before, "the writer did not pack by itself"
            assert (state / "writes-since-pack").read_text().split()[0] == "3", "still due"
        last = write_runs(store, 3, 1)[-1]                  # due again: this packer runs
    wait_until_packed(repo)
    assert loose_count(repo) == loose_before
    assert tracked_packs(repo) and pack_files(repo) == set(tracked_packs(repo))
    with open_store(repo, sign_key=False) as store:
        assert store.tip == last and len(store.paths("runs/")) == 4
    fsck(repo)


def test_the_detached_packer_leaves_no_warning_or_zombie_in_the_writer(repo: Path):
    git(repo, "config", "testlog.packInBackground", "true")
    script = ("import gc, os, sys\n"
              "from tests.store_helpers import open_store\n"
              "with open_store(sys.argv[1], sign_key=False) as store:\n"
              "    store.pack_every = 1\n"
              "    store.write({'a.txt': b'1'}, 'one')\n"
              "gc.collect()\n"
              "import subprocess\n"
              "print(len(subprocess._active), flush=True)\n")
    proc = subprocess.run([sys.executable, "-X", "dev", "-W", "error", "-c", script, str(repo)],
                          capture_output=True, text=True, cwd=os.getcwd())
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "0\n", "")
    wait_until_packed(repo)
    fsck(repo)


def test_repository_config_can_keep_packing_in_the_writer(repo: Path):
    git(repo, "config", "testlog.packInBackground", "false")
    with open_store(repo, sign_key=False) as store:
        assert not store.pack_in_background
        store.pack_every = 1
        store.write({"a.txt": b"1"}, "one")
    assert (common_dir(repo) / "testlog" / "writes-since-pack").read_text().split() == ["0", "0"]


def test_merges_pass_their_git_config_to_pack_objects(repo: Path):
    """Merges bound git's delta window (MERGE_WINDOW_BYTES) with `git -c`: here the same
    plumbing carries pack.compression=0, which shows in the pack."""
    text = b"".join(b"line %d of a compressible file\n" % i for i in range(2000))
    with open_store(repo, sign_key=False) as store:
        store.write({"a.txt": text}, "one")
    common = str(common_dir(repo))
    name = _pack_objects(common, ["--all"], "", {"pack.compression": "0"})
    pack_dir = common_dir(repo) / "objects" / "pack"
    listing = git(repo, "verify-pack", "-v", str(pack_dir / f"{name}.idx"))
    sha = Blob.from_string(text).id.decode()
    blob = next(line.split() for line in listing.splitlines() if line.startswith(sha))
    assert int(blob[3]) >= int(blob[2]) == len(text), blob       # stored, not deflated
    assert MERGE_WINDOW_BYTES == 1024 * 1024


def test_a_failing_detached_packer_leaves_its_error_in_pack_log(repo: Path):
    git(repo, "config", "testlog.packInBackground", "true")
    git(repo, "config", "pack.window", "not-a-number")     # makes git pack-objects fail
    log = common_dir(repo) / "testlog" / "pack.log"
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 1
        store.write({"a.txt": b"1"}, "one")
    wait_until(lambda: "could not pack the log branch's objects" in
               (log.read_text() if log.exists() else ""), "the packer's error reaches pack.log")
    assert (common_dir(repo) / "testlog" / "writes-since-pack").read_text().split()[0] == "1"
    wait_until(lambda: not running(packer_pattern(repo)), "the failed packer ends")


def test_the_detached_packer_writes_its_packs_while_a_writer_holds_the_lock(repo: Path):
    git(repo, "config", "testlog.packInBackground", "true")
    loose_before = loose_count(repo)
    with open_store(repo, sign_key=False) as store:
        store.pack_every = 3
        write_runs(store, 0, 2)
        before = pack_files(repo)
        with store.locked():                            # a long write in another session
            store.after_write(store.tip)                # the third write: the packer starts
            # its pack-objects runs regardless of the lock
            wait_until(lambda: pack_files(repo) != before, "the packer writes its pack")
            assert (common_dir(repo) / "testlog" / "writes-since-pack").read_text().split()[0] == "3"
    wait_until_packed(repo)                             # and it recorded them after the lock
    assert loose_count(repo) == loose_before and set(tracked_packs(repo)) == pack_files(repo)
    fsck(repo)
