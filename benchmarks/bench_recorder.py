"""Recorder overhead: `pytest --testlog` (signed commit included) vs bare pytest, and vs
pytest-reportlog when installed, on a generated suite of 2,000 tests (70% trivial, 20% using
random/numpy, 10% torch), in interleaved runs; prints median ratios and peak RSS.

    python benchmarks/bench_recorder.py [--pairs N] [--mix 70,20,10] [--keep DIR]
                                        [--variants testlog-here,reportlog]

Whole-process wall time of each pytest run, with a warm bytecode cache (PYTHONDONTWRITEBYTECODE
unset) and the same installed plugins in every variant. Read the ratios, not the absolute times:
the machine is shared. Variants: bare, testlog (its writer process builds and commits the run),
testlog-here (writer_process off: pytest's process writes), reportlog. Columns:
- wall ratio: median over rounds of variant/bare in the same round; "min ratio": fastest run
  over fastest bare run (noise only ever adds time);
- CPU ratio: user+system time of pytest and every child it waited for (the writer included);
- peak RSS: the largest of the process tree (wait4); "pytest RSS" is pytest's own peak and
  "child RSS" its largest child's (the writer, git, gpg), reported by a probe plugin loaded in
  every variant.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Targets, machine

FILES = 20
TESTS = 2000
TARGET_RATIO = 1.10

HEADER = "import random\n\nimport numpy as np\nimport torch\n\n"
TRIVIAL = "def test_trivial_{n}():\n    assert {n} + 1 == {m}\n\n"
NUMERIC = ("def test_numeric_{n}():\n    values = np.random.rand(4)\n"
           "    assert 0.0 <= values.min() <= values.max() < 1.0\n"
           "    assert random.random() < 1.0\n\n")
TORCH = "def test_torch_{n}():\n    assert float(torch.rand(3).sum()) < 3.0\n\n"


def generate_suite(root: str, mix: tuple[int, int, int]) -> None:
    """20 files of 100 tests; kinds spread evenly by the percentages in `mix`."""
    kinds = [TRIVIAL] * mix[0] + [NUMERIC] * mix[1] + [TORCH] * mix[2]
    os.makedirs(os.path.join(root, "tests"), exist_ok=True)
    per_file = TESTS // FILES
    for f in range(FILES):
        body = [HEADER]
        for i in range(per_file):
            n = f * per_file + i
            body.append(kinds[n % len(kinds)].format(n=n, m=n + 1))
        with open(os.path.join(root, "tests", f"test_gen_{f:02d}.py"), "w") as handle:
            handle.write("".join(body))


def git(cwd: str, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout


def make_key(gnupghome: str) -> str:
    import gnupg
    gpg = gnupg.GPG(gnupghome=gnupghome)
    key = gpg.gen_key(gpg.gen_key_input(name_real="Bench", name_email="bench@example.invalid",
                                        key_type="RSA", key_length=2048, no_protection=True))
    return key.fingerprint


def isolated_env(work: str) -> dict[str, str]:
    home = os.path.join(work, "home")
    gnupg_home = os.path.join(work, "gnupg")
    os.makedirs(home, exist_ok=True)
    os.makedirs(gnupg_home, mode=0o700, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "GIT_DIR", "GIT_WORK_TREE", "PYTEST_ADDOPTS")}
    env.update(HOME=home, GNUPGHOME=gnupg_home, GIT_CONFIG_NOSYSTEM="1",
               GIT_CONFIG_GLOBAL=os.path.join(home, ".gitconfig"),
               GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.invalid",
               GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.invalid")
    return env


# Loaded in every variant: at exit, pytest's own peak RSS and its largest child's, in KiB.
PROBE = """import atexit, os, resource

def _report():
    with open("/proc/self/status") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["BENCH_RSS_OUT"], "w") as out:
        out.write(f"{own} {child}")

atexit.register(_report)
"""


def timed(cmd: list[str], cwd: str, env: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB, exit code) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, os.waitstatus_to_exitcode(status)


def variants(work: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name -> (command, extra environment)."""
    bare = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
            "-p", "bench_rss_probe"]
    testlog = bare + ["--testlog", "--testlog-suite=bench"]
    out = {"bare": (bare, {}), "testlog": (testlog, {}),
           "testlog-here": (testlog, {"TESTLOG_WRITER_PROCESS": "0"})}
    if importlib.util.find_spec("pytest_reportlog") is not None:
        out["reportlog"] = (bare + [f"--report-log={os.path.join(work, 'report.jsonl')}"], {})
    return out


def probed_env(work: str, env: dict[str, str]) -> dict[str, str]:
    """`env` with the RSS probe plugin importable (written into the work dir)."""
    probe_dir = os.path.join(work, "probe")
    os.makedirs(probe_dir, exist_ok=True)
    with open(os.path.join(probe_dir, "bench_rss_probe.py"), "w") as handle:
        handle.write(PROBE)
    path = os.pathsep.join(p for p in (probe_dir, env.get("PYTHONPATH")) if p)
    return {**env, "PYTHONPATH": path, "BENCH_RSS_OUT": os.path.join(work, "rss.txt")}


def probed_rss(work: str) -> tuple[int, int]:
    """(pytest's own peak, its largest child's) in KiB, from the last run's probe."""
    with open(os.path.join(work, "rss.txt")) as handle:
        own, child = handle.read().split()
    return int(own), int(child)


def pair_ratios(runs: list[tuple[float, ...]], bare: list[tuple[float, ...]],
                field: int) -> list[float]:
    return [run[field] / base[field] for run, base in zip(runs, bare)]


def summarise(results: dict[str, list[tuple[float, float, int, int, int]]]) -> list[str]:
    bare = results["bare"]
    lines = [f"{'variant':<13} {'wall median':>12} {'wall ratio':>11} {'min-max':>13} "
             f"{'min ratio':>10} {'CPU ratio':>10} {'peak RSS':>11} {'RSS ratio':>10} "
             f"{'pytest RSS':>11} {'child RSS':>10}"]
    bare_rss = statistics.median(r[2] for r in bare)
    for name, runs in results.items():
        walls, cpus = pair_ratios(runs, bare, 0), pair_ratios(runs, bare, 1)
        rss = statistics.median(r[2] for r in runs)
        lines.append(f"{name:<13} {statistics.median(r[0] for r in runs):>11.3f}s "
                     f"{statistics.median(walls):>11.3f} {min(walls):>6.3f}-{max(walls):<6.3f} "
                     f"{min(r[0] for r in runs) / min(r[0] for r in bare):>10.3f} "
                     f"{statistics.median(cpus):>10.3f} {rss / 1024:>8.1f}MiB "
                     f"{rss / bare_rss:>10.3f} "
                     f"{statistics.median(r[3] for r in runs) / 1024:>8.1f}MiB "
                     f"{statistics.median(r[4] for r in runs) / 1024:>7.1f}MiB")
    return lines


@contextlib.contextmanager
def signed_suite(keep: str | None, mix: tuple[int, int, int],
                 prefix: str) -> Iterator[tuple[str, dict[str, str], str]]:
    """(work dir, isolated env, the generated suite committed with a throwaway signing key);
    the work dir is reused when kept, else removed with its gpg-agent afterwards."""
    work = keep or tempfile.mkdtemp(prefix=prefix)
    try:
        env = isolated_env(work)
        suite = os.path.join(work, "suite")
        if not os.path.isdir(os.path.join(suite, ".git")):
            generate_suite(suite, mix)
            git(suite, env, "init", "-q", "-b", "main")
            git(suite, env, "add", "-A")
            git(suite, env, "commit", "-q", "-m", "generated suite")
            git(suite, env, "config", "user.signingkey", make_key(env["GNUPGHOME"]))
        yield work, env, suite
    finally:
        if keep is None:
            subprocess.run(["gpgconf", "--kill", "gpg-agent"], env={**os.environ, "GNUPGHOME":
                           os.path.join(work, "gnupg")}, capture_output=True)
            shutil.rmtree(work, ignore_errors=True)


def run(pairs: int, mix: tuple[int, int, int], keep: str | None,
        only: list[str] | None = None) -> int:
    with signed_suite(keep, mix, "bench-recorder-") as (work, env, suite):
        commands = variants(work)
        if only is not None:
            commands = {name: commands[name] for name in ["bare", "testlog", *only]
                        if name in commands}
        env = probed_env(work, env)
        for name, (cmd, extra) in commands.items():     # warm-up: bytecode cache, page cache
            wall, _cpu, _rss, code = timed(cmd, suite, {**env, **extra})
            print(f"warm-up {name}: {wall:.2f}s exit {code}", flush=True)
        results: dict[str, list[tuple[float, float, int, int, int]]] = {n: [] for n in commands}
        names = list(commands)
        for i in range(pairs):
            order = names[i % len(names):] + names[:i % len(names)]   # rotate who goes first
            for name in order:
                cmd, extra = commands[name]
                wall, cpu, rss, _code = timed(cmd, suite, {**env, **extra})
                results[name].append((wall, cpu, rss, *probed_rss(work)))
        print(f"{pairs} interleaved rounds, {TESTS} tests, mix {mix} "
              f"(trivial, random/numpy, torch), on {machine()}:")
        print("\n".join(summarise(results)))
        ratio = statistics.median(pair_ratios(results["testlog"], results["bare"], 0))
        cpu = statistics.median(pair_ratios(results["testlog"], results["bare"], 1))
        targets = Targets()
        verdict = targets.check("testlog/bare wall time", ratio, TARGET_RATIO)
        print(f"testlog/bare median ratio {ratio:.3f} (target <= {TARGET_RATIO}) {verdict}")
        print(f"testlog/bare median CPU ratio {cpu:.3f} (pytest and every child it waited for)")
        return targets.status()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=int(os.environ.get("BENCH_PAIRS", 10)))
    parser.add_argument("--mix", default="70,20,10")
    parser.add_argument("--keep", default=None, help="reuse/keep this work directory")
    parser.add_argument("--variants", default=None, metavar="NAME,...",
                        help="run only bare, testlog and these (testlog-here, reportlog); more "
                             "rounds in the same time")
    args = parser.parse_args()
    mix = tuple(int(x) for x in args.mix.split(","))
    only = [] if args.variants == "" else args.variants.split(",") if args.variants else None
    if only and not set(only) <= {"testlog-here", "reportlog", "bare", "testlog"}:
        parser.error(f"--variants: unknown name in {args.variants!r} "
                     "(known: testlog-here, reportlog; bare and testlog always run)")
    return run(args.pairs, mix, args.keep, only)  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main())
