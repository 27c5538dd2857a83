"""Audit benchmark: `git testlog verify` of 10,000 signed commits (target <= 5 s, issue 13.4)
and of 100 new commits after a verified tip (target <= 2 s), beside baselines measured in the
same run: a `git log --format=%H` walk of the same commits, and `git verify-commit` on a
sample, extrapolated to the same number of commits.

The branch is built exactly as commit_event writes it now (logfixture.ChainBuilder): each
commit one run of 5 tests whose files (compact run file, run.log, summaries, timing CSV,
errors, determinism header) come from the recorder's own RecordBook/run_bundle, different in
every commit; the event in the Testlog-Event-Record trailer, linked to the parent's by
Testlog-Previous-Event; the static README once. At 100 runs a day the tip's directories hold
one or two files per day and suite (404-808 entries after 101 days, no `prune`). Fast:
objects go straight into one pack (then `git repack -a -d -f` gives them deltas, as packing
would) and commits are signed in process with pysequoia instead of a gpg process. gpg itself checks those signatures in the
baseline. The repository is cached in the temp dir between runs (`--rebuild` makes a new
one).

Run: .venv/bin/python benchmarks/bench_audit.py [--rebuild] [--quick] [--key ed25519]
[--repeat N]
"""
from __future__ import annotations

import argparse
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import logfixture as fx  # noqa: E402
from targets import Targets, machine  # noqa: E402

SUITES = ("unit", "integration", "e2e", "perf")
RUNS_PER_DAY = 100                    # a busy CI: 25 runs of each suite a day
TESTS_PER_RUN = 5
FIRST_DAY = date(2025, 10, 1)
BASE_TIME = 1_759_300_000             # 2025-10-01 06:26 UTC
VERSION = "v2"                        # v1: the first format (chronicle.ndjson, README index)
FULL_TARGET_S, INCREMENTAL_TARGET_S = 5.0, 2.0


def cache_dir(n_full: int, n_new: int, key: str) -> Path:
    suffix = "" if key == "rsa2048" else f"-{key}"
    return Path(tempfile.gettempdir()) / f"git-testlog-bench-audit-{VERSION}-{n_full}-{n_new}{suffix}"


# -- the fixture ------------------------------------------------------------------------------

def build_fixture(target: Path, n_full: int, n_new: int, key: str) -> dict[str, str]:
    if target.exists():
        fx.stop_agent(target / "gnupg")
        shutil.rmtree(target)
    target.mkdir(parents=True)
    env = fx.sandbox(target / "sandbox")
    gnupg_home = Path(env["GNUPGHOME"])
    repo = target / "repo"
    fx.git(target, "init", "-q", "--bare", str(repo))
    fingerprint = fx.make_key(gnupg_home, fast=key == "ed25519")   # RSA 2048: the old fixture
    keys = fx.export_public(gnupg_home, [fingerprint], target / "trusted.asc")
    signer = fx.SequoiaSigner(gnupg_home, fingerprint)
    fx.stop_agent(gnupg_home)
    rng = random.Random(10_000)
    t0 = time.time()
    builder = fx.ChainBuilder(repo, signer)
    for k in range(n_full + n_new):
        day = date.fromordinal(FIRST_DAY.toordinal() + k // RUNS_PER_DAY)
        suite = SUITES[k % len(SUITES)]
        when = BASE_TIME + k * 60 * 24 * 60 // RUNS_PER_DAY
        bundle = fx.synthetic_run(TESTS_PER_RUN, suite=suite, day=day, started_ns=when * 10**9,
                                  base_seed=k % 97, rng=rng)
        builder.add_run(bundle, when)
    builder.close()
    print(f"  fixture: {len(builder.commits)} signed commits built in {time.time() - t0:.1f} s",
          flush=True)
    t1 = time.time()
    fx.git(repo, "update-ref", "refs/heads/testlog", builder.commits[-1])
    fx.git(repo, "repack", "-a", "-d", "-f", "-q")
    pack = sum(p.stat().st_size for p in (repo / "objects" / "pack").glob("*.pack"))
    print(f"  fixture: repacked (deltas) in {time.time() - t1:.1f} s: {pack / 1e6:.0f} MB",
          flush=True)
    fixture = {"repo": str(repo), "gnupg": str(gnupg_home), "fingerprint": fingerprint,
               "keys": str(keys), "full_tip": builder.commits[n_full - 1],
               "tip": builder.commits[-1], "env_home": str(target / "sandbox")}
    (target / "fixture.txt").write_text("".join(f"{k}={v}\n" for k, v in fixture.items()))
    return fixture


def fixture(rebuild: bool, n_full: int, n_new: int, key: str) -> dict[str, str]:
    target = cache_dir(n_full, n_new, key)
    marker = target / "fixture.txt"
    if marker.exists() and not rebuild:
        print(f"  fixture: reusing {target}", flush=True)
        return dict(line.split("=", 1) for line in marker.read_text().splitlines())
    return build_fixture(target, n_full, n_new, key)


# -- the measurements -------------------------------------------------------------------------

def timed(fn: Callable[[], object], repeat: int = 1) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def testlog_verify(env: dict[str, str], fixture_: dict[str, str], *extra: str
                   ) -> subprocess.CompletedProcess[str]:
    # cwd: the source tree, never the bare repository (its testlog/ state folder would be
    # imported by `python -c` as the testlog package)
    return subprocess.run([sys.executable, "-c", "from testlog.cli import entry; entry()", "-C",
                           fixture_["repo"], "verify", "--trusted-keys", fixture_["keys"], *extra],
                          capture_output=True, text=True, env=env, cwd=ROOT)


def verify_commit_ms(env: dict[str, str], repo: str, shas: list[str]) -> float:
    start = time.perf_counter()
    for sha in shas:
        subprocess.run(["git", "verify-commit", sha], cwd=repo, env=env, capture_output=True,
                       check=True)
    return (time.perf_counter() - start) / len(shas) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", help="build the fixture again")
    parser.add_argument("--quick", action="store_true",
                        help="200 + 20 commits: check that it works (figures mean nothing)")
    parser.add_argument("--key", choices=("rsa2048", "ed25519"), default="rsa2048",
                        help="the signing key: RSA 2048 (the issue's fixture, the default) or "
                             "ed25519 (what docs/ci.md makes for CI)")
    parser.add_argument("--repeat", type=int, default=3, metavar="N",
                        help="full verifies to time (the median counts; default 3)")
    args = parser.parse_args()
    n_full, n_new = (200, 20) if args.quick else (10_000, 100)
    fx_ = fixture(args.rebuild, n_full, n_new, args.key)
    env = fx.sandbox(Path(fx_["env_home"]))
    repo = Path(fx_["repo"])
    targets = Targets()
    try:
        fx.git(repo, "update-ref", "refs/heads/testlog", fx_["full_tip"])
        state = repo / "testlog" / "verified"
        shutil.rmtree(state, ignore_errors=True)
        walk = timed(lambda: fx.git(repo, "log", "--format=%H", "refs/heads/testlog"), repeat=3)
        every = max(1, n_full // 50)
        sample = fx.git(repo, "rev-list", "refs/heads/testlog").split()[::every][:50]
        per_commit = verify_commit_ms(env, str(repo), sample)

        result: subprocess.CompletedProcess[str] | None = None

        def full() -> None:
            nonlocal result
            shutil.rmtree(state, ignore_errors=True)
            result = testlog_verify(env, fx_)
        full_s = timed(full, repeat=args.repeat)
        assert result is not None
        if result.returncode != 0:
            print(result.stdout[-2000:], result.stderr[-2000:])
            return 1
        fx.git(repo, "update-ref", "refs/heads/testlog", fx_["tip"])      # new commits arrive
        start = time.perf_counter()
        incremental = testlog_verify(env, fx_, "--since", "last")
        incr_s = time.perf_counter() - start
        if incremental.returncode != 0 or "incremental after" not in incremental.stdout:
            print(incremental.stdout[-2000:], incremental.stderr[-2000:])
            return 1
    finally:
        fx.stop_agent(fx_["gnupg"])

    gpg_full = per_commit * n_full / 1000
    gpg_incr = per_commit * n_new / 1000
    full_ok = targets.check(f"verify, full, {n_full} commits signed {args.key}", full_s,
                            FULL_TARGET_S, " s")
    incr_ok = targets.check(f"verify --since last, {n_new} new commits", incr_s,
                            INCREMENTAL_TARGET_S, " s")
    print(f"  machine: {machine()}")
    print(f"  baseline git log --format=%H walk of {n_full} commits: {walk:.2f} s")
    print(f"  baseline git verify-commit: {per_commit:.1f} ms/commit on {len(sample)} commits "
          f"-> {gpg_full:.1f} s for {n_full}, {gpg_incr:.2f} s for {n_new} (extrapolated)")
    print(f"  git testlog verify, full, {n_full} commits signed {args.key} (median of "
          f"{args.repeat}): {full_s:.2f} s "
          f"(target <= {FULL_TARGET_S:g} s) {full_ok}; {gpg_full / full_s:.1f}x faster than "
          f"verify-commit each; {full_s / walk:.0f}x the bare walk")
    print(f"  git testlog verify --since last, {n_new} new commits: {incr_s:.2f} s "
          f"(target <= {INCREMENTAL_TARGET_S:g} s) {incr_ok}; verify-commit each: {gpg_incr:.2f} s")
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
