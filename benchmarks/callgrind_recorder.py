"""The recorder's per-test cost in instructions (valgrind's callgrind: noise-free, unlike wall
time on a shared machine): pytest's own process on generated suites of N and 2N trivial tests,
bare and with `--testlog`, for this source tree and, side by side, for another one (say the
commit a change branched from, unpacked with `git archive <sha> | tar -x -C DIR`).

    python benchmarks/callgrind_recorder.py [--tests N] [--base DIR] [--printing P]

Prints instructions per run, each tree's --testlog/bare ratio at 2N tests, and the extra
instructions per test: ((testlog - bare) at 2N - (testlog - bare) at N) / N, which leaves out
what a session pays once (imports, the commit). Exits non-zero when this tree's extra per
test exceeds the base's by more than --max-extra (default 5%). The writer process (a child) is not traced: what is counted is what pytest's own
process pays; `--in-process` counts the in-process writer as well (the commit's git and gpg
still run as children). Under valgrind, OpenSSL does not see the CPU's SHA extensions, so hash
work is overstated a little.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from targets import Targets, machine

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = 10


def generate(root: str, tests: int, printing: int) -> None:
    """`tests` trivial tests in FILES files; every `printing`-th one prints a line (0: none)."""
    os.makedirs(os.path.join(root, "tests"), exist_ok=True)
    per_file = max(1, tests // FILES)
    for f in range(FILES):
        body = []
        for i in range(per_file):
            n = f * per_file + i
            prints = f"    print('line', {n})\n" if printing and n % printing == 0 else ""
            body.append(f"def test_{n}():\n{prints}    assert {n} + 1 == {n + 1}\n\n\n")
        with open(os.path.join(root, "tests", f"test_gen_{f:02d}.py"), "w") as handle:
            handle.write("".join(body))
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.invalid",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.invalid"}
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "suite"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)


def instructions(tree: str, suite: str, args: list[str], in_process: bool) -> int:
    """Ir of pytest's own process running `args` with `tree`'s testlog first on the path."""
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "callgrind.out")
        env = {**os.environ, "PYTHONPATH": tree, "PYTHONHASHSEED": "0",
               "TESTLOG_WRITER_PROCESS": "0" if in_process else "1"}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
               sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
               "-p", "no:randomly", *args]
        proc = subprocess.run(cmd, cwd=suite, env=env, capture_output=True, text=True)
        # pytest's own process: the one valgrind started (forked children report too).
        main_pid = re.search(r"^==(\d+)== Command:", proc.stderr, re.M)
        found = main_pid and re.search(rf"^=={main_pid.group(1)}== Collected : (\d+)",
                                       proc.stderr, re.M)
        if not found or proc.returncode != 0:
            raise SystemExit(f"callgrind failed ({proc.returncode}): {proc.stderr[-2000:]}")
        return int(found.group(1))


TESTLOG = ["--testlog", "--testlog-no-sign", "--testlog-suite=cg"]


def warm(tree: str, suite: str) -> None:
    """Every module of the tree compiled (a stale .pyc costs its compilation in every run:
    ~10 M instructions a module), then both variants once natively (assertion rewriting)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.join(tree, "testlog"),
                    os.path.join(tree, "gitstore")], env=env, capture_output=True, check=True)
    for args in ([], TESTLOG):
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                        "no:randomly", *args], cwd=suite, capture_output=True,
                       env={**env, "PYTHONPATH": tree})


def measure(tree: str, suite: str, in_process: bool) -> tuple[int, int]:
    """(bare Ir, --testlog Ir), each after a warm run."""
    warm(tree, suite)
    return (instructions(tree, suite, [], in_process),
            instructions(tree, suite, TESTLOG, in_process))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500)
    parser.add_argument("--printing", type=int, default=0,
                        help="every P-th test prints a line (captured output to hash)")
    parser.add_argument("--base", default=None, metavar="DIR",
                        help="another source tree to compare with (e.g. the branch point)")
    parser.add_argument("--in-process", action="store_true",
                        help="writer_process=false: count the writing in pytest's process")
    parser.add_argument("--max-extra", type=float, default=0.05,
                        help="allowed growth of the extra instructions per test vs --base")
    args = parser.parse_args()
    targets = Targets()
    with tempfile.TemporaryDirectory(prefix="callgrind-recorder-") as work:
        small, large = os.path.join(work, "small"), os.path.join(work, "large")
        generate(small, args.tests, args.printing)
        generate(large, 2 * args.tests, args.printing)
        trees = {"this": HERE, **({"base": os.path.abspath(args.base)} if args.base else {})}
        extra = {}
        print(f"{args.tests} and {2 * args.tests} trivial tests (every "
              f"{args.printing or 'no'} printing), "
              f"{'in-process writer' if args.in_process else 'writer process'}, on {machine()}:")
        for name, tree in trees.items():
            bare1, recorded1 = measure(tree, small, args.in_process)
            bare2, recorded2 = measure(tree, large, args.in_process)
            extra[name] = ((recorded2 - bare2) - (recorded1 - bare1)) / args.tests
            print(f"  {name:<5} at {2 * args.tests}: bare {bare2:>14,} Ir  --testlog "
                  f"{recorded2:>14,} Ir  ratio {recorded2 / bare2:.4f}; extra "
                  f"{extra[name]:,.0f} Ir/test (at {args.tests}: bare {bare1:,}, --testlog "
                  f"{recorded1:,})")
        if "base" in extra:
            growth = extra["this"] / extra["base"] - 1 if extra["base"] else 0.0
            print(f"  extra instructions per test vs base: {growth:+.2%}")
            verdict = targets.check('extra Ir per test vs base', 1 + growth, 1 + args.max_extra)
            print(f"  target: at most {args.max_extra:+.0%}: {verdict}")
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
