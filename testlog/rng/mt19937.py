"""The Mersenne Twister's state right after seeding with a 32-bit integer (`init_genrand`), which
NumPy's legacy `seed(n)` and torch's `manual_seed(n)` both use: the 624 key words.

A run stores a reseeded test's starting RNG states as the fact that they are the seeded ones;
reading the run back regenerates them here, with NumPy when it is already loaded (~50 µs) and
in plain Python otherwise (~190 µs), so that an auditor needs neither NumPy nor torch.
"""
from __future__ import annotations

import functools
import sys

WORDS = 624


@functools.lru_cache(maxsize=4)       # numpy's and torch's states of one test share the words
def init_genrand(seed: int) -> tuple[int, ...]:
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "random"):
        generator = numpy.random.MT19937()
        generator._legacy_seeding(seed)
        return tuple(int(w) for w in generator.state["state"]["key"])
    return _init_genrand_python(seed)


def _init_genrand_python(seed: int) -> tuple[int, ...]:
    words = [seed & 0xFFFFFFFF]
    previous = words[0]
    for index in range(1, WORDS):
        previous = (1812433253 * (previous ^ (previous >> 30)) + index) & 0xFFFFFFFF
        words.append(previous)
    return tuple(words)
