"""torch's CUDA generators, one per device, present only when CUDA is available.

Canonical state: for each device in order, its state length (uint32 LE) then its bytes.
"""
from __future__ import annotations

import struct
import sys

from testlog.rng.base import digest  # noqa: F401  (part of the protocol)

NAME = "torch_cuda"
IMPORT_NAME = "torch"

_available: bool | None = None


def loaded() -> bool:
    global _available
    torch = sys.modules.get("torch")
    if torch is None or not hasattr(torch, "default_generator"):
        return False
    if _available is None:
        _available = bool(torch.cuda.is_available())
    return _available


def seed(n: int) -> None:
    sys.modules["torch"].cuda.manual_seed_all(n)


def capture() -> bytes:
    states = sys.modules["torch"].cuda.get_rng_state_all()
    return b"".join(struct.pack("<I", len(b)) + b for b in (s.numpy().tobytes() for s in states))


def seeded_state(seed: int) -> None:
    """Not derivable: the devices' Philox states depend on the hardware; stored as captured."""
    return None


def restore(state: bytes) -> None:
    torch = sys.modules["torch"]
    states, pos = [], 0
    while pos < len(state):
        (size,) = struct.unpack_from("<I", state, pos)
        states.append(torch.frombuffer(bytearray(state[pos + 4:pos + 4 + size]), dtype=torch.uint8))
        pos += 4 + size
    torch.cuda.set_rng_state_all(states)
