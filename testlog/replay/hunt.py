"""`git testlog hunt <nodeid>`: run one test under N base seeds, each attempt recorded as a run
of its own (`pytest <nodeid> --testlog --testlog-seed=S`), and name the seeds it fails under
with the command that replays each.

The attempts run in the user's checkout with the project's interpreter, as the user's own
pytest would (their recorded source is the checkout, dirty diff included), `jobs` at a time;
every one is a normal recorded run, so `flaky`, `history` and `site` see them too. The base
seeds are `start`, `start + 1`, …: a hunt is repeatable, and each test seed is the one
`--testlog-seed=S` derives for that node id.
"""
from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from gitstore import GitStoreError, without_git_location

from testlog.core.flaky import replay_command
from testlog.core.runfacts import FAILING
from testlog.core.seeds import derive_seed
from testlog.errors import TestlogError

_RECORDED = re.compile(r"recorded as ([0-9a-f]{7,40}) on ")
TAIL = 12
NO_TESTS = (4, 5)            # pytest: usage error (a node id not found), no tests collected


@dataclass(frozen=True)
class HuntRequest:
    nodeid: str
    seeds: int
    start: int
    until_fail: bool
    jobs: int
    python: str
    cwd: str                     # where pytest runs: the recorded rootdir in the checkout
    branch: str | None
    sign_key: str | None
    no_sign: bool


@dataclass(frozen=True)
class Attempt:
    base_seed: int
    seed: int                    # the test's own seed, derived from the base seed and node id
    status: str                  # the test's recorded status; "NOT RECORDED" when no run came
    sha: str | None              # the run's log commit
    exit_status: int
    tail: str = ""               # pytest's last lines, when no run was recorded

    @property
    def failed(self) -> bool:
        return self.status in FAILING

    def replay(self, nodeid: str) -> str | None:
        return replay_command(self.sha, nodeid) if self.sha else None

    def as_dict(self, nodeid: str) -> dict[str, Any]:
        return {"base_seed": self.base_seed, "seed": self.seed, "status": self.status,
                "sha": self.sha, "exit_status": self.exit_status,
                "replay": self.replay(nodeid),
                "pytest": f"python -m pytest {nodeid} --testlog-seed={self.base_seed}"}


class NoSuchTest(TestlogError):
    """pytest found no test of that node id here."""


def pytest_argv(req: HuntRequest, base_seed: int) -> list[str]:
    argv = [req.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--testlog",
            f"--testlog-seed={base_seed}"]
    if req.branch:
        argv.append(f"--testlog-branch={req.branch}")
    if req.no_sign:
        argv.append("--testlog-no-sign")
    elif req.sign_key:
        argv.append(f"--testlog-sign-key={req.sign_key}")
    return [*argv, "--", req.nodeid]


StatusOf = Callable[[str], "tuple[str, str | None]"]


def run_one(req: HuntRequest, base_seed: int, status_of: StatusOf) -> Attempt:
    """One attempt: pytest records it; the test's status is read back from the run."""
    proc = subprocess.run(pytest_argv(req, base_seed), cwd=req.cwd,
                          env=without_git_location(os.environ), stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = proc.stdout.decode(errors="replace")
    seed = derive_seed(base_seed, req.nodeid)
    tail = "\n".join(out.rstrip().splitlines()[-TAIL:])
    if proc.returncode in NO_TESTS:
        raise NoSuchTest(tail)
    found = _RECORDED.search(out)
    if found is None:
        return Attempt(base_seed, seed, "NOT RECORDED", None, proc.returncode, tail)
    try:
        sha, status = status_of(found.group(1))
    except (GitStoreError, TestlogError) as exc:
        return Attempt(base_seed, seed, "NOT RECORDED", None, proc.returncode, str(exc))
    return Attempt(base_seed, seed, status or "NOT RUN", sha, proc.returncode)


def hunt(req: HuntRequest, status_of: StatusOf,
         progress: Callable[[Attempt], None]) -> list[Attempt]:
    """Every attempt made, in seed order. `status_of(short sha)` reads the run's full sha and
    the test's status (None: not in the run) back from the log; with until_fail no attempt
    starts after a failure."""
    seeds = list(range(req.start, req.start + req.seeds))
    done: list[Attempt] = []
    stop = threading.Event()
    with ThreadPoolExecutor(max_workers=req.jobs) as pool:
        running: set[Future[Attempt]] = set()
        while seeds or running:
            while seeds and len(running) < req.jobs and not stop.is_set():
                running.add(pool.submit(run_one, req, seeds.pop(0), status_of))
            if not running:
                break
            finished, running = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                attempt = future.result()       # NoSuchTest: the others finish, then it rises
                done.append(attempt)
                progress(attempt)
                if attempt.failed and req.until_fail:
                    stop.set()
            if stop.is_set():
                seeds = []
    return sorted(done, key=lambda a: a.base_seed)
