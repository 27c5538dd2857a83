"""Site benchmark: `git testlog site -o DIR` on a log of 3,000 runs × 500 tests (targets: the
build <= 30 s, the first page <= 1 MB), beside a baseline measured in the same run: reading
every run file of the log with one `git cat-file --batch` (the bytes any reader must take
from git), as a ratio. Timed: a cold build (the history cache under .git/testlog/ removed
first: every run file parsed), a warm one (the cache filled), and `git testlog flaky` warm.

The log is written as the recorder writes it, but fast: `git fast-import` makes the commits
(messages, trailers and event records as commit_event writes them; unsigned) with compact run
files whose lines are those of real runs (a few flaky tests, one seed-dependent test, a test
that got slower, serial and xdist runs, two source trees), ledgers every 100 runs and a replay
every 100 runs. The repository is cached in the temp dir between runs (`--rebuild` makes a new
one). `--runs`/`--tests` size it (`--runs 30 --tests 20` checks the script quickly).

Run: .venv/bin/python benchmarks/bench_site.py [--runs N] [--tests N] [--rebuild]
"""
from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from targets import Targets, machine  # noqa: E402

from gitstore.commits import compose_message  # noqa: E402

from testlog.core.canonical import dumps_normal  # noqa: E402
from testlog.core.chronicle import make_event  # noqa: E402
from testlog.store.events import STATIC_INDEX, event_trailers  # noqa: E402

VERSION = "v1"
BUILD_TARGET_S = 30.0
FIRST_PAGE_TARGET = 1024 * 1024
BASE_TIME = 1_780_000_000
GIT_ENV = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
CLI = os.path.join(os.path.dirname(sys.executable), "git-testlog")
ENVIRONMENT = {"arch": "x86_64", "cpu": "Bench CPU", "env_digest": "hmac-sha256:" + "ab" * 32,
               "numpy_version": "2.4.6", "os": "Linux", "python_implementation": "CPython",
               "python_version": "3.11.7", "torch_version": None}


def git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", *args], cwd=repo, input=data, capture_output=True, check=True,
                          env=GIT_ENV).stdout


def test_name(i: int) -> str:
    return f"tests/test_module_{i // 50:02d}.py::test_case_{i:04d}"


def status_of(k: int, i: int, base_seed: int, rng: random.Random) -> str:
    if i < 3:                                   # nondeterministic: ~15% failures
        return "FAIL" if rng.random() < 0.15 else "PASS"
    if i == 3:                                  # seed-dependent: fails for some base seeds
        return "FAIL" if base_seed % 7 == 0 else "PASS"
    if i == 4 and k % 500 == 499:               # a real failure now and then
        return "ERROR"
    return "SKIP" if i % 97 == 5 else "PASS"


def run_file(k: int, tests: int, runs: int) -> tuple[bytes, str, int, int]:
    """(the compact run file, its verdict, passed, failed) of the k-th run."""
    rng = random.Random(k)
    base_seed = k % 50                           # seeds repeat: evidence for the classes
    started_ns = (BASE_TIME + k * 600) * 10**9
    xdist = k % 3 == 0
    lines, passed, failed = [], 0, 0
    offset = 0
    for i in range(tests):
        status = status_of(k, i, base_seed, rng)
        passed += status == "PASS"
        failed += status in ("FAIL", "ERROR")
        slower = 1.0 + (0.5 if i == 10 and k > runs * 0.9 else 0.0)
        duration = int((200_000 + 3_000 * (i % 40)) * slower * (1 + 0.1 * rng.random()))
        line = {"inputs": {}, "order": i, "rng": ["python"], "status": status,
                "test_name": test_name(i),
                "timing": [offset, offset + duration, offset + 5_000, 40_000_000, duration // 2],
                "worker": f"gw{i % 2}" if xdist else None}
        if i % 2:
            line["rng_after"] = {"python": hashlib.sha256(f"{k}:{i}".encode()).hexdigest()}
        offset += duration + 20_000
        lines.append(dumps_normal(line))
    verdict = "FAIL" if failed else "PASS"
    tree = "1" * 40 if k < runs // 2 else "2" * 40
    run = {"base_seed": base_seed, "suite": "unit", "verdict": verdict,
           "started": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(started_ns // 10**9)),
           "source": {"commit": tree.replace("1", "a").replace("2", "b"), "tree": tree,
                      "dirty": False, "dirty_diff_path": None},
           "pythonhashseed": "0", "xdist_workers": 2 if xdist else 0,
           "pytest": {"args": ["-n", "2"] if xdist else [], "version": "9.2.0"},
           "selection": None, "schema_version": 2}
    header = {"format": "testlog-compact-run", "schema_version": 1, "run": run,
              "records": {"base_seed": base_seed, "environment": ENVIRONMENT,
                          "determinism": "seeded", "derived": ["python"],
                          "started_ns": started_ns, "count": tests, "records_sha256": "0" * 64}}
    data = b"\n".join([dumps_normal(header), *lines]) + b"\n"
    return data, verdict, passed, failed


def replay_report(k: int, tests: int) -> bytes:
    entries = [{"test_name": test_name(i), "verdict": "verified" if i >= 3 else "critical",
                "status_recorded": "PASS", "status_replayed": "PASS" if i >= 3 else "FAIL"}
               for i in range(tests)]
    return dumps_normal({"schema_version": 1, "verdict": "FAILED", "tests": entries,
                         "environment": {"same_platform": True}, "run": {"suite": "unit"}})


def ledger_lines(k: int) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TIME + k * 600))
    cov = [dumps_normal({"ts": ts, "module": f"mod{m}", "path": f"mod{m}", "coverage":
                         round(70 + m + (k % 300) / 30, 2), "tree": "c" * 40,
                         "source_commit": "a" * 40, "schema_version": "1"}) for m in range(8)]
    bench = [dumps_normal({"ts": ts, "module": "mod0", "benchmark": f"test_bench_{b}",
                           "latency_p50_ms": 1.0 + b + (k % 100) / 100,
                           "latency_p95_ms": 1.5 + b + (k % 100) / 80,
                           "latency_p99_ms": 2.0 + b, "source_commit": "a" * 40,
                           "schema_version": "1"}) for b in range(4)]
    return b"\n".join(cov) + b"\n", b"\n".join(bench) + b"\n"


def commit_block(mark: int, parent: int | None, when: int, message: bytes,
                 files: dict[str, bytes]) -> bytes:
    out = [f"commit refs/heads/testlog\nmark :{mark}\n".encode(),
           f"committer Bench <bench@example.com> {when} +0000\n".encode(),
           f"data {len(message)}\n".encode(), message, b"\n"]
    if parent is not None:
        out.append(f"from :{parent}\n".encode())
    for path, data in files.items():
        out += [f"M 100644 inline {path}\ndata {len(data)}\n".encode(), data, b"\n"]
    return b"".join(out) + b"\n"


def build_fixture(repo: Path, runs: int, tests: int) -> None:
    repo.mkdir(parents=True)
    git(repo, "init", "-q", "-b", "main")
    proc = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE,
                            env=GIT_ENV)
    assert proc.stdin is not None
    mark, parent = 0, None
    coverage, bench = b"", b""
    for k in range(runs):
        day = time.strftime("%Y%m%d", time.gmtime(BASE_TIME + k * 600))
        data, verdict, passed, failed = run_file(k, tests, runs)
        artifact = f"runs/{day}__unit__run.jsonl"
        event = make_event("TEST_SUITE_EXECUTED", artifact, data, verdict, "unsigned",
                           time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(BASE_TIME + k * 600)))
        message = compose_message(
            f"TEST_SUITE_EXECUTED unit {verdict} {passed} passed {failed} failed",
            event_trailers(event, {"Testlog-Source-Commit": "a" * 40,
                                   "Testlog-Source-Tree": "1" * 40, "Testlog-Suite": "unit",
                                   "Testlog-Verdict": verdict}))
        files = {artifact: data}
        if k == 0:
            files["README.md"] = STATIC_INDEX
        if k % 100 == 99:
            cov, ben = ledger_lines(k)
            coverage, bench = coverage + cov, bench + ben
            files["ledger/coverage.ndjson"] = coverage
            files["ledger/bench.ndjson"] = bench
        mark += 1
        proc.stdin.write(commit_block(mark, parent, BASE_TIME + k * 600, message, files))
        parent = mark
        if k % 100 == 50:
            report = replay_report(k, tests)
            path = f"replays/{day}__unit__replay.json"
            event = make_event("REPLAY_FAILED", path, report, "FAIL", "unsigned")
            message = compose_message("REPLAY_FAILED unit 497 verified 3 flagged",
                                      event_trailers(event, {"Testlog-Replay-Of": "0" * 40,
                                                             "Testlog-Suite": "unit",
                                                             "Testlog-Verdict": "FAIL"}))
            mark += 1
            proc.stdin.write(commit_block(mark, parent, BASE_TIME + k * 600 + 60, message,
                                          {path: report}))
            parent = mark
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")


def fixture(runs: int, tests: int, rebuild: bool) -> Path:
    repo = Path(tempfile.gettempdir()) / f"git-testlog-bench-site-{VERSION}-{runs}-{tests}"
    if rebuild and repo.exists():
        shutil.rmtree(repo)
    if not (repo / ".git" / "refs" / "heads" / "testlog").exists() and not \
            (repo / ".git" / "packed-refs").exists():
        shutil.rmtree(repo, ignore_errors=True)
        start = time.perf_counter()
        build_fixture(repo, runs, tests)
        print(f"built the log in {time.perf_counter() - start:.1f} s: {repo}")
    return repo


def timed(argv: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, env=GIT_ENV)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{proc.stderr.decode(errors='replace')}")
    return seconds


def baseline_seconds(repo: Path) -> float:
    """Reading every run file: the names from one walk, the bytes from one cat-file."""
    start = time.perf_counter()
    names = git(repo, "log", "--format=%H", "testlog").decode().split()
    paths = git(repo, "log", "--format=", "--name-only", "testlog", "--", "runs/").decode().split()
    objects = "".join(f"{sha}:{path}\n" for sha, path in zip(names, paths))
    subprocess.run(["git", "cat-file", "--batch"], cwd=repo, input=objects.encode(),
                   stdout=subprocess.DEVNULL, check=True, env=GIT_ENV)
    return time.perf_counter() - start


def site_size(site: Path) -> tuple[int, int]:
    files = [p for p in site.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    repo = fixture(args.runs, args.tests, args.rebuild)
    work = Path(tempfile.mkdtemp(prefix="bench-site-"))
    targets = Targets()
    try:
        cache = repo / ".git" / "testlog" / "history-cache"
        baseline = baseline_seconds(repo)
        shutil.rmtree(cache, ignore_errors=True)
        cold = timed([CLI, "site", "-o", str(work / "cold")], repo)
        warm = timed([CLI, "site", "-o", str(work / "warm")], repo)
        flaky = timed([CLI, "flaky"], repo)
        first = (work / "warm" / "index.html").stat().st_size
        count, total = site_size(work / "warm")
        print(f"log: {args.runs} runs × {args.tests} tests")
        print(f"baseline (git cat-file of every run file): {baseline:.2f} s")
        print(f"site, cold (history cache empty): {cold:.2f} s = {cold / baseline:.1f}x the baseline "
              f"[{targets.check('cold build', cold, BUILD_TARGET_S, ' s')}: <= {BUILD_TARGET_S:g} s]")
        print(f"site, warm (history cache filled): {warm:.2f} s = {warm / baseline:.1f}x the "
              f"baseline [{targets.check('warm build', warm, BUILD_TARGET_S, ' s')}]")
        print(f"flaky, warm: {flaky:.2f} s = {flaky / baseline:.1f}x the baseline")
        print(f"first page (index.html): {first / 1024:.0f} KiB "
              f"[{targets.check('first page', first / 1024, FIRST_PAGE_TARGET / 1024, ' KiB')}: "
              f"<= {FIRST_PAGE_TARGET // 1024} KiB]")
        print(f"whole site: {count} files, {total / 2**20:.1f} MiB")
        cache_files, cache_bytes = site_size(cache)
        print(f"history cache: {cache_files} files, {cache_bytes / 2**20:.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
