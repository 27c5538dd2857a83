"""The Mersenne Twister's state right after seeding with a 32-bit integer (`init_genrand`), which
NumPy's legacy `seed(n)` and torch's `manual_seed(n)` both use: the 624 key words.

A run stores a reseeded test's starting RNG states as the fact that they are the seeded ones;
writing and reading the run regenerate them here, with NumPy's C when it is loaded (~15 µs)
and in plain Python otherwise (~190 µs), so that an auditor needs neither NumPy nor torch; a
process that regenerates many loads NumPy when it is installed (IMPORT_NUMPY_AFTER).
"""
from __future__ import annotations

import functools
import importlib.util
import struct
import sys
from typing import Any

WORDS = 624
# After more than this many seeds regenerated in plain Python (~0.2 ms each), a process with NumPy
# installed but not loaded (the writer process, an auditor) loads it: its import costs about
# 0.3 s of CPU here, what 1,600 seeds do; a run of 10,000 tests then saves 1.5 s.
IMPORT_NUMPY_AFTER = 2_000

_python_seeds = 0
_numpy_missing = False


@functools.lru_cache(maxsize=4)       # numpy's and torch's states of one test share the words
def key_bytes(seed: int, width: int) -> bytes:
    """The 624 key words right after init_genrand(seed), little-endian, `width` bytes each (4:
    NumPy's layout, 8: torch's)."""
    numpy = _numpy()
    if numpy is not None:
        generator = numpy.random.MT19937()
        generator._legacy_seeding(seed & 0xFFFFFFFF)   # as torch, and plain Python below
        return bytes(generator.state["state"]["key"].astype(f"<u{width}").tobytes())
    return struct.pack(f"<{WORDS}{'I' if width == 4 else 'Q'}", *_init_genrand_python(seed))


def init_genrand(seed: int) -> tuple[int, ...]:
    """The key words as integers."""
    return struct.unpack(f"<{WORDS}I", key_bytes(seed, 4))


def _numpy() -> Any:
    global _numpy_missing
    numpy = sys.modules.get("numpy")
    if numpy is not None and hasattr(numpy, "random"):
        return numpy
    if _python_seeds <= IMPORT_NUMPY_AFTER or _numpy_missing:
        return None
    try:
        if importlib.util.find_spec("numpy") is None:
            raise ImportError("numpy is not installed")
        import numpy.random  # many seeds to go: NumPy's C is 40x faster
        return sys.modules["numpy"]
    except Exception:                 # not installed or broken here: plain Python it is
        _numpy_missing = True
        return None


@functools.lru_cache(maxsize=2)
def _init_genrand_python(seed: int) -> tuple[int, ...]:
    global _python_seeds
    _python_seeds += 1
    words = [seed & 0xFFFFFFFF]
    previous = words[0]
    for index in range(1, WORDS):
        previous = (1812433253 * (previous ^ (previous >> 30)) + index) & 0xFFFFFFFF
        words.append(previous)
    return tuple(words)
