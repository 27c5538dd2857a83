"""Gates on a generated 150-module monorepo, each figure against a baseline run side by side.

1. The pre-push gate with one changed module (`git testlog hook pre-push`, git's stdin, no
   cache: a fresh change) vs running that module's tests under coverage by hand
   (`python -m pytest --cov=<module> <module>/tests`). The module is in lane L3, so the gate
   also judges the delta against its base (found in the ledger: the warm-up pair measured it)
   and the changed lines. Target: <= 1.1x.
   The same pair on one core (`taskset -c 0`) is printed too, without a target: nothing is
   prestarted there, and the whole of git-testlog's own work adds to the wait.
2. `git testlog cov --all -j 2` vs `-j 1` (no cache) over the modules that have tests.

Interleaved pairs (A B A B ...) after one warm-up pair; the ratio is the median of the
per-pair ratios. Usage: python benchmarks/bench_gates.py [--pairs N] [--tested N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Targets, machine

GATE_TARGET = 1.1
BIN = os.path.dirname(sys.executable)
MODULES = 150
CODE = "".join(f"def f{i}(x):\n    if x > {i}:\n        return x - {i}\n    return x + {i}\n\n\n"
               for i in range(12))
TEST = "from {pkg}.code import f0, f1, f2\n\n\ndef test_a():\n    assert f0(1) == 1\n\n\n" \
       "def test_b():\n    assert f1(5) == 4 and f2(0) == 2\n"


def sh(argv: list[str], cwd: Path, stdin: str | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, input=stdin, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return elapsed


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


def generate(root: Path, tested: int) -> list[str]:
    """150 modules (50 top-level folders, each with two nested modules); the first `tested`
    have tests. Returns the module folders with tests."""
    folders = [f"pkg{i:02d}" + sub for i in range(MODULES // 3) for sub in ("", "/a", "/b")]
    for n, folder in enumerate(folders):
        path = root / folder
        (path / "tests").mkdir(parents=True) if n < tested else path.mkdir(parents=True)
        lane = 3 if n == tested // 2 else n % 6      # the changed module: delta and patch
        manifest = {"module": folder.replace("/", "."), "tags": [f"lane:L{lane}"]}
        (path / "module.manifest.json").write_text(json.dumps(manifest) + "\n")
        (path / "__init__.py").write_text("")
        (path / "code.py").write_text(CODE)
        if n < tested:
            pkg = folder.replace("/", ".")
            (path / "tests" / f"test_{pkg.replace('.', '_')}.py").write_text(TEST.format(pkg=pkg))
    (root / ".gitignore").write_text("__pycache__/\n.coverage\n.pytest_cache/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "-c", "user.name=bench", "-c", "user.email=b@example.invalid", "commit", "-q",
        "-m", "150 modules")
    return folders[:tested]


def compile_the_tool() -> None:
    """Bytecode for git-testlog itself, as `pip install` writes it: an editable checkout run
    with PYTHONDONTWRITEBYTECODE=1 would otherwise compile the tool on every gate."""
    import compileall

    import gitstore

    import testlog
    for package in (testlog, gitstore):
        compileall.compile_dir(os.path.dirname(package.__file__), quiet=1)


def pairs(a: list[str], b: list[str], cwd: Path, count: int, stdin: str | None = None):
    sh(a, cwd, stdin), sh(b, cwd)                        # warm-up pair, not counted
    times_a, times_b = [], []
    for _ in range(count):
        times_a.append(sh(a, cwd, stdin))
        times_b.append(sh(b, cwd))
    ratios = [x / y for x, y in zip(times_a, times_b)]
    return statistics.median(times_a), statistics.median(times_b), ratios


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--tested", type=int, default=24,
                        help="modules (of 150) with tests: cov --all runs each of them")
    opts = parser.parse_args()
    targets = Targets()
    print(f"gates benchmark on {machine()}", flush=True)
    compile_the_tool()
    work = Path(tempfile.mkdtemp(prefix="bench-gates-"))
    env_home = work / "home"
    env_home.mkdir()
    os.environ.update(HOME=str(env_home), GIT_CONFIG_GLOBAL=str(env_home / ".gitconfig"),
                      GIT_CONFIG_NOSYSTEM="1", PATH=BIN + os.pathsep + os.environ["PATH"])
    os.environ.pop("VIRTUAL_ENV", None)
    try:
        repo = work / "mono"
        tested = generate(repo, opts.tested)
        git(repo, "config", "user.name", "bench")
        git(repo, "config", "user.email", "b@example.invalid")
        base = git(repo, "rev-parse", "HEAD")
        target = tested[len(tested) // 2]
        with open(repo / target / "code.py", "a") as handle:
            handle.write("\n\ndef g(x):\n    return -x\n")
        git(repo, "commit", "-q", "-am", f"touch {target}")
        head = git(repo, "rev-parse", "HEAD")
        stdin = f"refs/heads/main {head} refs/heads/main {base}\n"
        gate = ["git", "testlog", "hook", "pre-push", "origin", "--no-cache"]
        by_hand = [sys.executable, "-m", "pytest", "-q", f"--cov={target}", f"{target}/tests"]
        a, b, ratios = pairs(gate, by_hand, repo, opts.pairs, stdin)
        ratio = statistics.median(ratios)
        verdict = targets.check("pre-push gate / by hand", ratio, GATE_TARGET)
        print(f"pre-push gate, 1 changed module of {MODULES}: {a:.2f}s vs by hand {b:.2f}s "
              f"-> {ratio:.2f}x (pairs {min(ratios):.2f}-{max(ratios):.2f}, "
              f"n={len(ratios)}; target <= {GATE_TARGET}x) {verdict}")
        if shutil.which("taskset"):      # where nothing overlaps: no target, for the record
            one = ["taskset", "-c", "0"]
            a, b, ratios = pairs(one + gate, one + by_hand, repo, opts.pairs, stdin)
            print(f"the same on one core (taskset -c 0): {a:.2f}s vs by hand {b:.2f}s -> "
                  f"{statistics.median(ratios):.2f}x (pairs {min(ratios):.2f}-"
                  f"{max(ratios):.2f}; nothing is prestarted there)")
        serial = sh(["git", "testlog", "cov", "--all", "-j", "1", "--no-cache"], repo)
        parallel = sh(["git", "testlog", "cov", "--all", "-j", "2", "--no-cache"], repo)
        print(f"cov --all over {len(tested)} tested modules of {MODULES}: -j 2 {parallel:.1f}s vs "
              f"-j 1 {serial:.1f}s -> {parallel / serial:.2f}x ({serial / parallel:.2f}x faster)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
