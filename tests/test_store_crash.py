"""A writer killed at random points leaves the branch at its old or its new tip, never broken."""
from __future__ import annotations

import multiprocessing
import random
import signal
from pathlib import Path

import pytest

from gitstore import Append

from tests import store_workers
from tests.fixtures import git
from tests.store_helpers import assert_linear, fsck, open_store

FORK = multiprocessing.get_context("fork")     # starts in microseconds: the kill lands mid-write
KILLS = 50
SEED = 20251101


def committed_by_child(done: Path) -> dict[int, str]:
    """n -> sha of every write the child saw return (a torn last line was never reported)."""
    out = {}
    for line in done.read_text().splitlines() if done.exists() else []:
        parts = line.split()
        if len(parts) == 2 and len(parts[1]) == 40:
            out[int(parts[0])] = parts[1]
    return out


def check_branch(repo: Path, reported: dict[int, str]) -> int:
    """The tip is a complete commit holding every reported write; returns the commit count."""
    tip = git(repo, "rev-parse", "--verify", "testlog^{commit}").strip()
    on_branch = set(git(repo, "rev-list", tip).split())
    assert set(reported.values()) <= on_branch, "a write the writer saw succeed was lost"
    with open_store(repo, sign_key=False) as store:
        assert store.tip == tip
        ledger = store.read("ledger/runs.ndjson").splitlines()
        files = set(store.paths("runs/"))
    assert len(ledger) == len(on_branch), "every commit adds exactly one ledger line"
    assert {f"runs/{n:05d}.json" for n in reported} <= files
    return len(on_branch)


@pytest.mark.slow
def test_writer_killed_at_random_points(repo: Path, tmp_path: Path):
    rng = random.Random(SEED)
    with open_store(repo, sign_key=False) as store:
        store.write({"ledger/runs.ndjson": Append(b'{"start":true}\n')}, "start")
    reported: dict[int, str] = {}
    for kill in range(KILLS):
        done = tmp_path / f"done-{kill}.txt"
        # pack_every=5 so that kills also land inside packing and pack merging.
        # Killed (by its own alarm: see write_until_killed) at a random moment after its
        # first write.
        child = FORK.Process(target=store_workers.write_until_killed,
                             args=(str(repo), kill * 10_000, str(done), 5, rng.uniform(0.0, 0.25)))
        child.start()
        child.join()
        assert child.exitcode == -signal.SIGALRM
        this_child = committed_by_child(done)
        assert this_child, "every kill lands after the child's first write"
        reported.update(this_child)
        count = check_branch(repo, reported)
        with open_store(repo, sign_key=False) as store:     # the next write succeeds
            store.write({"ledger/runs.ndjson": Append(f'{{"after_kill":{kill}}}\n'.encode())},
                        f"after kill {kill}")
        assert check_branch(repo, reported) == count + 1
        if kill % 10 == 9:
            fsck(repo)
    fsck(repo)
    total = check_branch(repo, reported)
    assert_linear(repo, total)
