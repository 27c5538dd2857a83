"""Seeds: a run's base seed, and each test's seed derived from it and the nodeid alone.

The derivation ignores order and xdist worker, so a test gets the same seed in any run with
the same base seed: `-n 2`, `-k`, a shuffled order, or a replay of that test alone.
"""
from __future__ import annotations

import hashlib
import secrets

SEED_BITS = 32          # the widest seed every RNG accepts (NumPy's legacy seed is 32-bit)
SESSION = ""            # the "nodeid" of session-start seeding: no real test has it


def random_base_seed() -> int:
    return secrets.randbits(SEED_BITS)


def derive_seed(base_seed: int, nodeid: str) -> int:
    """First 32 bits (big-endian) of SHA-256 over `<base_seed>\\0<nodeid>`."""
    digest = hashlib.sha256(f"{base_seed}\0{nodeid}".encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:4], "big")


def session_seed(base_seed: int) -> int:
    """The seed of every global RNG at session start, before collection."""
    return derive_seed(base_seed, SESSION)


def parse_seed(text: str) -> int:
    """A base seed given on the command line: a non-negative integer."""
    try:
        value = int(text, 0)
    except ValueError:
        raise ValueError(f"invalid seed {text!r}: use a non-negative integer") from None
    if value < 0:
        raise ValueError(f"invalid seed {text!r}: use a non-negative integer")
    return value
