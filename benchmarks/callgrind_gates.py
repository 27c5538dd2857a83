"""The pre-push gate's cost in instructions (valgrind's callgrind, every process traced: the
CLI, git, the project's pytest and what they start), beside running that module's tests under
coverage by hand, on the 150-module monorepo of bench_gates.py. Instructions do not depend on
how busy a shared machine is, as wall time does; they leave out waiting (git's and pytest's
start-up are counted, the time the gate waits for them is not).

    python benchmarks/callgrind_gates.py [--tested N] [--by-process]

Prints each side's instructions summed over its processes, the processes each started, and
the ratio. Exits non-zero when the ratio exceeds the target (1.1x, issue 17).
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_gates as bg  # the monorepo and the two commands
from targets import Targets, machine

TOTALS = re.compile(r"^(?:summary|totals):\s+(\d+)", re.M)
COMMAND = re.compile(r"^cmd:\s+(.*)$", re.M)


def instructions(argv: list[str], cwd: Path, out: Path, stdin: str | None = None,
                 by_process: bool = False) -> tuple[int, int]:
    """(instructions summed over every process, processes) of one traced run; with
    `by_process`, print each process's share, largest first."""
    out.mkdir()
    proc = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes",
                           f"--callgrind-out-file={out}/callgrind.%p", "--quiet", *argv],
                          cwd=cwd, input=stdin, capture_output=True, text=True)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} under valgrind failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    files = glob.glob(str(out / "callgrind.*"))
    shares: list[tuple[int, str]] = []
    for name in files:
        with open(name, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        found = TOTALS.findall(text)
        command = COMMAND.search(text)
        shares.append((int(found[-1]) if found else 0, command.group(1) if command else "?"))
    if by_process:
        for count, command in sorted(shares, reverse=True):
            print(f"  {count / 1e6:9.1f} M  {command[:110]}")
    return sum(count for count, _ in shares), len(files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tested", type=int, default=24,
                        help="modules (of 150) with tests (default 24, as bench_gates.py)")
    parser.add_argument("--by-process", action="store_true",
                        help="print each traced process's instructions (where the gate's go)")
    opts = parser.parse_args()
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (apt-get install -y valgrind)")
    targets = Targets()
    print(f"gate instructions on {machine()}", flush=True)
    bg.compile_the_tool()
    work = Path(tempfile.mkdtemp(prefix="callgrind-gates-"))
    home = work / "home"
    home.mkdir()
    os.environ.update(HOME=str(home), GIT_CONFIG_GLOBAL=str(home / ".gitconfig"),
                      GIT_CONFIG_NOSYSTEM="1", PATH=bg.BIN + os.pathsep + os.environ["PATH"])
    os.environ.pop("VIRTUAL_ENV", None)
    try:
        repo = work / "mono"
        tested = bg.generate(repo, opts.tested)
        bg.git(repo, "config", "user.name", "bench")
        bg.git(repo, "config", "user.email", "b@example.invalid")
        base = bg.git(repo, "rev-parse", "HEAD")
        target = tested[len(tested) // 2]
        with open(repo / target / "code.py", "a") as handle:
            handle.write("\n\ndef g(x):\n    return -x\n")
        bg.git(repo, "commit", "-q", "-am", f"touch {target}")
        head = bg.git(repo, "rev-parse", "HEAD")
        stdin = f"refs/heads/main {head} refs/heads/main {base}\n"
        gate = ["git", "testlog", "hook", "pre-push", "origin", "--no-cache"]
        by_hand = [sys.executable, "-m", "pytest", "-q", f"--cov={target}", f"{target}/tests"]
        bg.sh(gate, repo, stdin)        # warm-up: the base measured once, as bench_gates does
        bg.sh(by_hand, repo)
        gate_ir, gate_procs = instructions(gate, repo, work / "gate", stdin, opts.by_process)
        hand_ir, hand_procs = instructions(by_hand, repo, work / "hand", None, opts.by_process)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    ratio = gate_ir / hand_ir
    verdict = targets.check("pre-push gate / by hand, instructions", ratio, bg.GATE_TARGET)
    print(f"pre-push gate, 1 changed module of {bg.MODULES}: {gate_ir / 1e9:.3f} G instructions "
          f"in {gate_procs} processes vs by hand {hand_ir / 1e9:.3f} G in {hand_procs} -> "
          f"{ratio:.3f}x (target <= {bg.GATE_TARGET}x) {verdict}")
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
