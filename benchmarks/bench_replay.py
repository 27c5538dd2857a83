"""Replay cost: `git testlog replay <sha>` of the generated 2,000-test suite against the
original recorded run (`pytest --testlog`), side by side in interleaved rounds. The checkout
(the recorded source materialised in a temp directory) is timed on its own, so the target
reads: replay <= 1.3x the recorded run, plus the checkout. Also shown: a cold replay (`--keep`
forces a fresh directory, so every test module is compiled and assertion-rewritten again, as
on the first replay of a source), `pytest --testlog-replay` in the suite's own directory
(no checkout, warm bytecode cache), and a replay with `--no-hash-probe`: the suite is recorded
without PYTHONHASHSEED, so a plain replay also runs the hash-order probe beside it (a second
pytest in a second checkout; the checkout timed on its own is the first one only).

    python benchmarks/bench_replay.py [--rounds N] [--mix 70,20,10] [--keep DIR]

The suite generator, the isolated environment and the timer are bench_recorder's. Whole-process
wall times; read the ratios, not the absolute times: the machine is shared.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_recorder import TESTS, git, signed_suite, timed
from targets import Targets, machine

TARGET_RATIO = 1.3
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]
CLI = os.path.join(os.path.dirname(sys.executable), "git-testlog")


def checkout_seconds(suite: str, sha: str, env: dict[str, str]) -> float:
    """Wall time of materialising the run's source tree, as `git testlog replay` does."""
    from gitstore.materialize import materialize
    source = git(suite, env, "show", "-s", "--format=%(trailers:key=Testlog-Source-Commit,valueonly)",
                 sha).strip()
    dest = tempfile.mkdtemp(prefix="bench-checkout-")
    try:
        start = time.perf_counter()
        materialize(os.path.join(suite, ".git"), source, None, os.path.join(dest, "src"))
        return time.perf_counter() - start
    finally:
        shutil.rmtree(dest, ignore_errors=True)


def cold_replay(suite: str, sha: str, env: dict[str, str], work: str) -> tuple[float, int]:
    """A replay in a fresh directory (--keep), removed afterwards."""
    kept = os.path.join(work, "kept")
    wall, _cpu, _rss, code = timed([CLI, "replay", "--python", sys.executable, "--keep", sha],
                                   suite, {**env, "TMPDIR": kept})
    shutil.rmtree(kept, ignore_errors=True)
    os.makedirs(kept)
    return wall, code


def one_round(suite: str, env: dict[str, str], work: str) -> dict[str, float]:
    record, _cpu, _rss, code = timed(PYTEST + ["--testlog", "--testlog-suite=bench"], suite, env)
    sha = git(suite, env, "rev-parse", "testlog").strip()
    replay, _cpu, _rss, replay_code = timed([CLI, "replay", "--python", sys.executable, sha], suite, env)
    # The suite is recorded without PYTHONHASHSEED: the replay above also runs the hash-order
    # probe (a second pytest beside it); this one does not.
    no_probe, _cpu, _rss, no_probe_code = timed([CLI, "replay", "--python", sys.executable,
                                                 "--no-hash-probe", sha], suite, env)
    cold, cold_code = cold_replay(suite, sha, env, work)
    in_place, _cpu, _rss, in_place_code = timed(PYTEST + [f"--testlog-replay={sha}"], suite, env)
    if (code, replay_code, no_probe_code, cold_code, in_place_code) != (0, 0, 0, 0, 0):
        raise SystemExit(f"exit codes record {code}, replay {replay_code}, cold {cold_code}, in "
                         f"place {in_place_code}: a replay did not verify every test")
    return {"record": record, "replay": replay, "checkout": checkout_seconds(suite, sha, env),
            "cold": cold, "in_place": in_place, "no_probe": no_probe}


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})"


def summarise(rounds: list[dict[str, float]]) -> list[str]:
    col = lambda name: [r[name] for r in rounds]   # noqa: E731
    net = [(r["replay"] - r["checkout"]) / r["record"] for r in rounds]
    return [
        f"recorded run (pytest --testlog)     wall s  {spread(col('record'))}",
        f"git testlog replay <sha>            wall s  {spread(col('replay'))}",
        f"  with --no-hash-probe              wall s  {spread(col('no_probe'))}",
        f"  of which the checkout             wall s  {spread(col('checkout'))}",
        f"cold replay (fresh directory)       wall s  {spread(col('cold'))}",
        f"pytest --testlog-replay (in place)  wall s  {spread(col('in_place'))}",
        f"replay / record                     ratio   {spread([r['replay'] / r['record'] for r in rounds])}",
        f"(replay - checkout) / record        ratio   {spread(net)}   target <= {TARGET_RATIO}",
        f"(no-probe - checkout) / record      ratio   "
        f"{spread([(r['no_probe'] - r['checkout']) / r['record'] for r in rounds])}",
        f"cold replay / record                ratio   {spread([r['cold'] / r['record'] for r in rounds])}",
        f"in-place replay / record            ratio   {spread([r['in_place'] / r['record'] for r in rounds])}",
    ]


def run(rounds: int, mix: tuple[int, int, int], keep: str | None) -> int:
    with signed_suite(keep, mix, "bench-replay-") as (work, env, suite):
        os.makedirs(os.path.join(work, "kept"), exist_ok=True)
        warm = one_round(suite, env, work)             # bytecode and page caches
        print(f"warm-up round: record {warm['record']:.2f}s, replay {warm['replay']:.2f}s",
              flush=True)
        results = [one_round(suite, env, work) for _ in range(rounds)]
        print(f"{rounds} rounds, {TESTS} tests, mix {mix} (trivial, random/numpy, torch), "
              f"signed commits, every replay verified; on {machine()}:")
        print("\n".join(summarise(results)))
        targets = Targets()
        net = statistics.median((r["replay"] - r["checkout"]) / r["record"] for r in results)
        print(f"(replay - checkout) / record: {net:.3f} "
              f"{targets.check('replay less its checkout / record', net, TARGET_RATIO)}")
        return targets.status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    parser.add_argument("--mix", default="70,20,10")
    parser.add_argument("--keep", default=None, help="reuse/keep this work directory")
    args = parser.parse_args()
    mix = tuple(int(x) for x in args.mix.split(","))
    return run(args.rounds, mix, args.keep)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
