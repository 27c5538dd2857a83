"""What the trust checks cost, each beside the work it guards, measured side by side:

- verify's tree check (`unsafe_trees`: every tree of the range, two git processes) against
  the commit walk verify does anyway (`commits_in_range`), on a branch of N run commits;
- the tree check of one read (`LogStore.paths` on a fresh store) against the same read with
  the check's result already known;
- redaction in the writer (a Redactor built for the run, node ids rewritten) against building
  the run's files from the same records without it (`run_bundle`).

    python benchmarks/bench_trust.py [--commits 300] [--tests 2000] [--repeat 5]
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from targets import Targets, machine

from gitstore import LogStore, commits_in_range, unsafe_trees

from testlog.core.records import TestOutcome
from testlog.core.redaction import Redactor
from testlog.core.runfiles import Harvest, RunContext, run_bundle
from testlog.store.state import CONVENTIONS


def best(repeat: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def log_branch(root: str, commits: int) -> str:
    os.environ.update(GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com",
                      GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com")
    subprocess.run(["git", "init", "-q", root], check=True)
    store = LogStore.open(root, sign_key=False, conventions=CONVENTIONS)
    for i in range(commits):
        day = f"2026{1 + i // 28 % 12:02d}{1 + i % 28:02d}"
        store.write({f"runs/{day}__unit{i % 5}__run.json": b'{"records":[]}' * 20,
                     f"timing/{day}__unit{i % 5}__timing.csv": b"t,1\n" * 20,
                     f"summaries/{day}__unit{i % 5}__summary.md": b"# s\n",
                     "chronicle.ndjson": b"x\n" * (i + 1)}, f"run {i}")
    store.close()
    return root


def harvest_of(tests: int) -> tuple[RunContext, Callable[[], Harvest]]:
    ctx = RunContext(suite="unit", day=__import__("datetime").date(2026, 1, 1), base_seed=1,
                     session_seed=2, started_ns=1, source=None, pythonhashseed="0",
                     record_environment={"os": "Linux"}, run_environment={"os": "Linux"},
                     pytest_args=["-q", "--api-token=abc123DEF456"], pytest_version="9",
                     reseed=True, full_state=False, randomly={})
    passed = ("passed", False)

    def harvest() -> Harvest:
        h = Harvest(finished_ns=2)
        for n in range(tests):
            name = f"tests/test_mod{n % 50}.py::TestThing::test_case_{n}[param-{n}]"
            h.outcomes.append(TestOutcome(name, {"setup": passed, "call": passed,
                                                 "teardown": passed}, order=n))
            h.add_captures([{"nodeid": name, "seed": n, "before": {"python": "ab"},
                             "after": {"python": "cd"}, "start_ns": 0, "end_ns": 1000,
                             "cpu_ns": 1, "wall_ns": 1, "rss": 1, "errors": [], "inputs": {},
                             "outputs": {}}])
        return h
    return ctx, harvest


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commits", type=int, default=300)
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    targets = Targets()
    with tempfile.TemporaryDirectory() as tmp:
        root = log_branch(os.path.join(tmp, "repo"), args.commits)
        common = os.path.join(root, ".git")
        tip = subprocess.run(["git", "rev-parse", "refs/heads/testlog"], cwd=root,
                             capture_output=True, text=True, check=True).stdout.strip()
        walk = best(args.repeat, lambda: commits_in_range(common, tip))
        check = best(args.repeat, lambda: unsafe_trees(common, [tip]))
        print(f"verify, {args.commits} commits: tree check {check * 1e3:.1f} ms, commit walk "
              f"{walk * 1e3:.1f} ms: {check / walk:.2f}x "
              f"{targets.check('tree check vs commit walk', check / walk, 3.0)}")

        def fresh_paths(checked: bool) -> None:
            store = LogStore.open(root, sign_key=False, conventions=CONVENTIONS)
            if not checked:
                store.checked = lambda tree: tree          # type: ignore[method-assign]
            store.paths()
            store.close()
        read_checked = best(args.repeat, lambda: fresh_paths(True))
        read_plain = best(args.repeat, lambda: fresh_paths(False))
        print(f"one read of the tip (open + paths): {read_checked * 1e3:.1f} ms checked, "
              f"{read_plain * 1e3:.1f} ms unchecked: {read_checked / read_plain:.2f}x "
              f"{targets.check('checked read', read_checked / read_plain, 1.5)}")

    ctx, harvest = harvest_of(args.tests)
    environ = {**os.environ, **{f"CI_VAR_{i}": f"value-{i}-abcdef" for i in range(80)}}

    def bundle(redacted: bool) -> float:
        """Seconds to write the run's files (the harvest is built before the clock starts)."""
        times = []
        for _ in range(args.repeat):
            gathered = harvest()
            start = time.perf_counter()
            context = ctx
            if redacted:
                redactor = Redactor(environ, ctx.pytest_args)
                context = dataclasses.replace(ctx, redact=redactor, redact_names=redactor.names,
                                              pytest_args=redactor.args(ctx.pytest_args))
            run_bundle(context, gathered)
            times.append(time.perf_counter() - start)
        return min(times)
    plain, redacted = bundle(False), bundle(True)
    print(f"writing a run of {args.tests} tests: {redacted * 1e3:.1f} ms with redaction, "
          f"{plain * 1e3:.1f} ms without: {redacted / plain:.3f}x "
          f"{targets.check('redaction in the writer', redacted / plain, 1.10)}")
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
