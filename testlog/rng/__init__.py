"""Global RNGs the recorder seeds and captures: one small module per RNG, one protocol.

Each module in REGISTRY provides:
    NAME: str                  key in a record's `rng_state` ("python", "numpy", "torch", ...)
    IMPORT_NAME: str | None    the module whose import makes this RNG appear (None: always there)
    loaded() -> bool           the RNG exists in this process (never imports a library)
    seed(n: int) -> None       reseed it (n < 2**32)
    capture() -> bytes         its full state, serialised canonically (see the module)
    restore(state: bytes)      set the state `capture()` returned
    digest(state: bytes) -> str  SHA-256 hex of a captured state
    seeded_state(n) -> bytes | None  what capture() returns right after seed(n), computed
                               without the library (None: not derivable)

capture() reads the raw state bytes where the layout could be verified against the public API
once per process, and falls back to the public API otherwise: same bytes either way.
"""
from __future__ import annotations

import sys
from types import ModuleType

from testlog.rng import numpy_legacy, python_random, torch_cpu, torch_cuda
from testlog.rng.base import digest

__all__ = ["REGISTRY", "by_name", "digest", "loaded_rngs", "seeded_digest"]

REGISTRY: tuple[ModuleType, ...] = (python_random, numpy_legacy, torch_cpu, torch_cuda)


def by_name(name: str) -> ModuleType:
    for module in REGISTRY:
        if module.NAME == name:
            return module
    raise KeyError(f"unknown RNG {name!r} (known: {', '.join(m.NAME for m in REGISTRY)})")


def seeded_digest(name: str, seed: int) -> str | None:
    """The digest of RNG `name`'s state right after seeding with `seed`; None when it cannot be
    derived (an unknown RNG, or one whose seeded state depends on the hardware)."""
    try:
        state = by_name(name).seeded_state(seed)
    except KeyError:
        return None
    return digest(state) if state is not None else None


_cache: tuple[int, tuple[ModuleType, ...]] = (-1, ())


def loaded_rngs() -> tuple[ModuleType, ...]:
    """The RNGs present in this process; only re-checked after new modules were imported."""
    global _cache
    count = len(sys.modules)
    if _cache[0] != count:
        _cache = (count, tuple(m for m in REGISTRY if m.loaded()))
    return _cache[1]
