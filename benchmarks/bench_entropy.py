"""Entropy capture cost (issue 19): `pytest --testlog` (entropy captured, the default) against
`pytest --testlog --testlog-no-entropy`, side by side in interleaved rounds, on a generated
suite of 2,000 tests where most draw no OS entropy: by default 68% trivial, 20% seeded
random/numpy, 10% torch and 2% drawing OS entropy (os.urandom, uuid.uuid4, an unseeded
numpy default_rng(), secrets), with one module-level unseeded default_rng() per file (drawn
at import, as einops' tests do). Target: captured / not captured <= 1.02 (median wall ratio).

    python benchmarks/bench_entropy.py [--pairs N] [--tests 2000] [--files 20]
                                       [--mix 68,20,10,2] [--keep DIR]

Also shown: bare pytest (no --testlog) for scale, CPU ratios, and the bytes the last captured
run stored (its entropy side file and run file on the branch). Whole-process wall times, warm
bytecode cache; read the ratios, not the absolute times: the machine may be shared. The
isolated environment, the throwaway signing key and the timer are bench_recorder's.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_recorder import NUMERIC, TORCH, TRIVIAL, git, isolated_env, make_key, timed
from targets import Targets, machine

TARGET_RATIO = 1.02
HEADER = ("import os\nimport random\nimport secrets\nimport uuid\n\nimport numpy as np\n"
          "import torch\n\nINPUTS = np.random.default_rng().random(4)\n\n")
ENTROPY = ("def test_entropy_{n}():\n    assert len(os.urandom(16)) == 16\n"
           "    assert uuid.uuid4().version == 4\n"
           "    assert 0.0 <= np.random.default_rng().random() < 1.0\n"
           "    assert len(secrets.token_hex(8)) == 16\n\n")
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly"]


def generate_suite(root: str, tests: int, files: int, mix: tuple[int, ...]) -> None:
    """`files` files sharing `tests` tests; kinds spread evenly by the percentages in `mix`
    (trivial, random/numpy, torch, OS entropy)."""
    kinds = [TRIVIAL] * mix[0] + [NUMERIC] * mix[1] + [TORCH] * mix[2] + [ENTROPY] * mix[3]
    os.makedirs(os.path.join(root, "tests"), exist_ok=True)
    per_file = max(1, tests // files)
    for f in range(files):
        body = [HEADER]
        for i in range(per_file):
            n = f * per_file + i
            # 37 is prime to 100: every run of 100 tests holds each kind's share, spread out
            body.append(kinds[(n * 37) % len(kinds)].format(n=n, m=n + 1))
        with open(os.path.join(root, "tests", f"test_gen_{f:02d}.py"), "w") as handle:
            handle.write("".join(body))


@contextlib.contextmanager
def signed_suite(keep: str | None, tests: int, files: int,
                 mix: tuple[int, ...]) -> Iterator[tuple[dict[str, str], str]]:
    """(isolated env, the generated suite committed with a throwaway signing key)."""
    work = keep or tempfile.mkdtemp(prefix="bench-entropy-")
    try:
        env = isolated_env(work)
        suite = os.path.join(work, "suite")
        if not os.path.isdir(os.path.join(suite, ".git")):
            generate_suite(suite, tests, files, mix)
            git(suite, env, "init", "-q", "-b", "main")
            git(suite, env, "add", "-A")
            git(suite, env, "commit", "-q", "-m", "generated suite")
            git(suite, env, "config", "user.signingkey", make_key(env["GNUPGHOME"]))
        yield env, suite
    finally:
        if keep is None:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME":
                           os.path.join(work, "gnupg")}, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)


def stored_bytes(suite: str, env: dict[str, str]) -> dict[str, int]:
    """Sizes of the newest run's run file and entropy side file on the log branch."""
    listing = git(suite, env, "ls-tree", "-r", "-l", "testlog", "runs/").splitlines()
    sizes: dict[str, int] = {}
    for line in sorted(listing, key=lambda ln: ln.split("\t")[1]):
        meta, path = line.split("\t", 1)
        for suffix in ("__run.jsonl", "__entropy.bin"):
            if path.endswith(suffix):
                sizes[suffix] = int(meta.split()[3])
    return sizes


def run(pairs: int, tests: int, files: int, mix: tuple[int, ...], keep: str | None) -> int:
    commands = {"bare": PYTEST,
                "captured": PYTEST + ["--testlog", "--testlog-suite=bench"],
                "not-captured": PYTEST + ["--testlog", "--testlog-suite=bench",
                                          "--testlog-no-entropy"]}
    with signed_suite(keep, tests, files, mix) as (env, suite):
        for name, cmd in commands.items():          # warm-up: bytecode cache, page cache
            wall, _cpu, _rss, code = timed(cmd, suite, env)
            print(f"warm-up {name}: {wall:.2f}s exit {code}", flush=True)
            if code != 0:
                print(f"{name} failed (exit {code}): {' '.join(cmd)}")
                return 1
        results: dict[str, list[tuple[float, float]]] = {n: [] for n in commands}
        names = list(commands)
        for i in range(pairs):
            for name in names[i % len(names):] + names[:i % len(names)]:   # rotate the first
                wall, cpu, _rss, _code = timed(commands[name], suite, env)
                results[name].append((wall, cpu))
        timed(commands["captured"], suite, env)    # a run of the same day replaces the last
        sizes = stored_bytes(suite, env)
    base = results["not-captured"]
    print(f"{pairs} interleaved rounds, {tests} tests in {files} files, mix {mix} (trivial, "
          f"random/numpy, torch, OS entropy), on {machine()}:")
    print(f"{'variant':<13} {'wall median':>12} {'vs not-captured':>16} {'CPU ratio':>10}")
    for name, runs in results.items():
        walls = [r[0] / b[0] for r, b in zip(runs, base)]
        cpus = [r[1] / b[1] for r, b in zip(runs, base)]
        print(f"{name:<13} {statistics.median(r[0] for r in runs):>11.3f}s "
              f"{statistics.median(walls):>16.3f} {statistics.median(cpus):>10.3f}")
    ratio = statistics.median(r[0] / b[0] for r, b in zip(results["captured"], base))
    print(f"stored by a captured run: run file {sizes.get('__run.jsonl', 0)} B, entropy side file "
          f"{sizes.get('__entropy.bin', 0)} B ({tests} tests)")
    targets = Targets()
    verdict = targets.check("captured/not-captured wall time", ratio, TARGET_RATIO)
    print(f"captured/not-captured median ratio {ratio:.3f} (target <= {TARGET_RATIO}) {verdict}")
    return targets.status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", 10)))
    parser.add_argument("--tests", type=int, default=2000)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--mix", default="68,20,10,2",
                        help="percent trivial, random/numpy, torch, OS entropy")
    parser.add_argument("--keep", default=None, help="reuse/keep this work directory")
    args = parser.parse_args()
    try:
        mix = tuple(int(x) for x in args.mix.split(","))
    except ValueError:
        parser.error(f"--mix: not four integers: {args.mix!r}")
    if len(mix) != 4 or min(mix) < 0 or not sum(mix):
        parser.error(f"--mix: four percentages, not {args.mix!r}")
    if args.pairs < 1 or args.tests < 1 or args.files < 1:
        parser.error("--pairs, --tests and --files must be positive")
    return run(args.pairs, args.tests, args.files, mix, args.keep)


if __name__ == "__main__":
    sys.exit(main())
