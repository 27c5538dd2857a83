"""Entropy capture's cost in instructions (valgrind's callgrind: noise-free, unlike wall time
on a shared machine): pytest's own process recording generated suites of N and 2N trivial
tests (they draw no OS entropy, as most tests do), with capture on (the default) and off
(`--testlog-no-entropy`).

    python benchmarks/callgrind_entropy.py [--tests N]

Prints instructions per run, the on/off ratio at 2N tests (target <= 1.02, issue 19's cost
target) and the extra instructions per test: ((on - off) at 2N - (on - off) at N) / N, which
leaves out what a session pays once. The suite generator and the callgrind runner are
callgrind_recorder's; the writer process (a child) is not counted.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from callgrind_recorder import HERE, TESTLOG, generate, instructions, warm
from targets import Targets, machine

TARGET_RATIO = 1.02
OFF = [*TESTLOG, "--testlog-no-entropy"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=500)
    args = parser.parse_args()
    if args.tests < 1:
        parser.error("--tests must be positive")
    counts: dict[int, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory(prefix="callgrind-entropy-") as work:
        for size in (args.tests, 2 * args.tests):
            suite = os.path.join(work, str(size))
            generate(suite, size, 0)
            warm(HERE, suite)
            counts[size] = (instructions(HERE, suite, OFF, False),
                            instructions(HERE, suite, TESTLOG, False))
    (off1, on1), (off2, on2) = counts[args.tests], counts[2 * args.tests]
    extra = ((on2 - off2) - (on1 - off1)) / args.tests
    ratio = on2 / off2
    print(f"{args.tests} and {2 * args.tests} trivial tests, writer process, on {machine()}:")
    for size, (off, on) in counts.items():
        print(f"  at {size}: capture off {off:>14,} Ir  on {on:>14,} Ir  ratio {on / off:.4f}")
    print(f"  extra instructions per test with capture on: {extra:,.0f} Ir")
    targets = Targets()
    verdict = targets.check("entropy capture on/off instructions", ratio, TARGET_RATIO)
    print(f"  on/off at {2 * args.tests} tests {ratio:.4f} (target <= {TARGET_RATIO}) {verdict}")
    return targets.status()


if __name__ == "__main__":
    sys.exit(main())
