"""Code run in child processes by the concurrency and crash tests (importable by `spawn`)."""
from __future__ import annotations

import os
import signal
import sys
from multiprocessing.synchronize import Event

from dulwich.objects import Blob
from dulwich.repo import Repo

from gitstore import Append
from gitstore.locking import add_object

from tests.store_helpers import open_store


def write_many(repo: str, worker: int, count: int, sign_key: str | bool, start: Event) -> None:
    """`count` writes, each one new file and one ledger line, all begun at the same moment."""
    with open_store(repo, sign_key=sign_key) as store:
        start.wait()
        for i in range(count):
            line = f'{{"worker":{worker},"i":{i}}}\n'.encode()
            store.write({f"w{worker}/{i:03d}.txt": f"{worker}-{i}\n".encode(),
                         "ledger/all.ndjson": Append(line)}, f"worker {worker} write {i}")


def same_objects(common_dir: str, count: int, start: Event) -> None:
    """Add the same `count` blobs as every other process running this, without any lock."""
    blobs = [Blob.from_string(f"shared object {i}\n".encode() * 50) for i in range(count)]
    with Repo(common_dir) as repo:
        start.wait()
        for blob in blobs:
            add_object(repo.object_store, blob)


def write_until_killed(repo: str, first: int, done_path: str, pack_every: int,
                       alarm_s: float) -> None:
    """Write numbered runs forever; after each returns, record `<n> <sha>` in `done_path`.

    `alarm_s` after the first write returned, SIGALRM ends the process wherever it is: its
    default action kills at once, like SIGKILL (no handler, no clean-up), at a moment counted
    from a condition (a write done), so that every kill lands after some writes however loaded
    the machine is."""
    with open_store(repo, sign_key=False) as store, open(done_path, "a") as done:
        store.pack_every = pack_every
        n = first
        while True:
            sha = store.write({f"runs/{n:05d}.json": f'{{"n":{n}}}\n'.encode() * 20,
                               "ledger/runs.ndjson": Append(f'{{"n":{n}}}\n'.encode())},
                              f"run {n}")
            done.write(f"{n} {sha}\n")
            done.flush()
            if n == first:
                signal.setitimer(signal.ITIMER_REAL, alarm_s)
            n += 1


if __name__ == "__main__":      # `python -m tests.store_workers <repo>`: one write, for SIGINT
    with open_store(sys.argv[1], sign_key=False, lock_timeout=600) as blocked:
        print(os.getpid(), flush=True)
        blocked.write({"interrupted.txt": b"never\n"}, "must not be written")
