"""What every RNG module shares: the digest of a captured state."""
from __future__ import annotations

import hashlib


def digest(state: bytes) -> str:
    """SHA-256 hex of a canonical state (the bytes `capture()` returns)."""
    return hashlib.sha256(state).hexdigest()
