"""The gates' ledger commit: its cost on a fresh log branch and after 3,000 gate commits
(issue 13.3: <= 1.2x), with the ledger as one file per day (ledger/coverage/YYYY-MM/DD.ndjson,
reports in measurements/YYYY-MM/DD/) beside the first form in the same run (one
ledger/coverage.ndjson appended and rewritten whole by every commit, reports directly in
measurements/).

Each commit is what a coverage gate of 3 modules records: 3 ledger lines appended, a report of
~2 KB, its chronicle event, made by the product's own commit_event, unsigned. Histories: 100
gate commits a day (a busy CI), packed inside the writes as the product packs them. Measured:
the median of interleaved writes (who goes first rotates), the store opened per write as a
gate opens it.

Run: .venv/bin/python benchmarks/bench_ledger.py [--commits N] [--writes N]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import logfixture as fx  # noqa: E402
from targets import Targets, machine  # noqa: E402

from gitstore import Append  # noqa: E402

from testlog.core import layout  # noqa: E402
from testlog.core.chronicle import COVERAGE_RECORDED  # noqa: E402
from testlog.store.events import commit_event  # noqa: E402
from testlog.store.state import open_log  # noqa: E402

FIRST_DAY = date(2026, 10, 1)
PER_DAY = 100
TARGET = 1.2
LAYOUTS = ("per day", "first form")


def paths(layout_name: str, day: date, run: str) -> tuple[str, str]:
    """(the ledger file this commit appends to, its report's path)."""
    if layout_name == "per day":
        return layout.ledger_path(layout.COVERAGE, day), layout.measurement_path("coverage", day, run)
    return layout.LEGACY_LEDGERS[layout.COVERAGE], \
        f"measurements/{layout.day_stamp(day)}__{run}__coverage.json"


def gate_commit(store, layout_name: str, k: int) -> None:
    day = FIRST_DAY + timedelta(days=k // PER_DAY)
    run = f"cov-{k:012x}"
    ledger, report = paths(layout_name, day, run)
    ts = f"{day.isoformat()}T{(k % PER_DAY) // 60:02d}:{k % 60:02d}:00Z"
    lines = b"".join(json.dumps({
        "schema_version": "1", "ts": ts, "run": run, "module": f"pkg{m}", "path": f"pkg{m}",
        "tree": f"{k * 7 + m:040x}", "dirty": False, "source_commit": f"{k:040x}",
        "env_fingerprint": "59224af02c3b915f", "report": report, "coverage": 80.0 + m,
        "tests": "passed", "lane": "L3", "target": 85.0}, sort_keys=True).encode() + b"\n"
        for m in range(3))
    body = json.dumps({"run": run, "ts": ts, "modules": [
        {"module": f"pkg{m}", "lines": {f"pkg{m}/code.py": {"executed": "1-40,44-90",
                                                            "executable": "1-95"}}}
        for m in range(3)], "problems": [], "pad": "x" * 1200}, sort_keys=True).encode()
    commit_event(store, {ledger: Append(lines), report: body}, event=COVERAGE_RECORDED,
                 artifact=report, verdict="PASS", summary=f"coverage {run}")


def make_repo(base: Path, name: str, env: dict[str, str]) -> Path:
    repo = base / name
    fx.git(base, "init", "-q", "-b", "main", str(repo), env=env)
    (repo / "README").write_text("project\n")
    fx.git(repo, "add", "-A", env=env)
    fx.git(repo, "commit", "-q", "-m", "project", env=env)
    return repo


def build(repo: Path, layout_name: str, commits: int, env: dict[str, str]) -> float:
    fx.git(repo, "config", "testlog.packInBackground", "false", env=env)
    start = time.perf_counter()
    with open_log(repo, sign_key=False) as store:
        for k in range(commits):
            gate_commit(store, layout_name, k)
    return time.perf_counter() - start


def timed(repo: Path, layout_name: str, k: int) -> float:
    start = time.perf_counter()
    with open_log(repo, sign_key=False) as store:
        gate_commit(store, layout_name, k)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=3000)
    parser.add_argument("--writes", type=int, default=21)
    opts = parser.parse_args()
    targets = Targets()
    print(f"ledger commit benchmark on {machine()}", flush=True)
    base = Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    try:
        env = fx.sandbox(base / "sandbox", pack_in_background=False)
        repos = {}
        for layout_name in LAYOUTS:
            for commits in (0, opts.commits):
                repo = make_repo(base, f"{layout_name.replace(' ', '-')}-{commits}", env)
                seconds = build(repo, layout_name, commits, env) if commits else 0.0
                repos[(layout_name, commits)] = repo
                if commits:
                    print(f"  {layout_name}: {commits} gate commits built in {seconds:.1f} s",
                          flush=True)
        times: dict[tuple[str, int], list[float]] = {key: [] for key in repos}
        keys = list(repos)
        for i in range(opts.writes):
            for key in keys[i % len(keys):] + keys[:i % len(keys)]:
                times[key].append(timed(repos[key], key[0], opts.commits + i))
        last_day = FIRST_DAY + timedelta(days=(opts.commits + opts.writes - 1) // PER_DAY)
        for layout_name in LAYOUTS:
            fresh = statistics.median(times[(layout_name, 0)])
            late = statistics.median(times[(layout_name, opts.commits)])
            ratio = late / fresh
            ledger = paths(layout_name, last_day, "cov-0")[0]
            ledger_size = int(fx.git(repos[(layout_name, opts.commits)], "cat-file", "-s",
                                     f"testlog:{ledger}", env=env))
            line = (f"  {layout_name}: one gate commit {fresh * 1000:.1f} ms on a fresh branch, "
                    f"{late * 1000:.1f} ms after {opts.commits} ({ratio:.2f}x); the ledger file "
                    f"it appends to: {ledger_size} bytes")
            if layout_name == "per day":
                verdict = targets.check(f"gate commit after {opts.commits} / fresh", ratio,
                                        TARGET)
                line += f" (target <= {TARGET}x) {verdict}"
            print(line, flush=True)
        status = targets.status()
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
