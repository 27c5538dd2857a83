"""torch's default CPU generator. Canonical state: `get_state()` bytes, as torch serialises them."""
from __future__ import annotations

import struct
import sys

from testlog.rng.base import digest  # noqa: F401  (part of the protocol)
from testlog.rng.mt19937 import key_bytes

NAME = "torch"
IMPORT_NAME = "torch"


def loaded() -> bool:
    return hasattr(sys.modules.get("torch"), "default_generator")


def seed(n: int) -> None:
    # torch.manual_seed also walks every accelerator backend (~200-400 µs); CUDA has its own module.
    sys.modules["torch"].default_generator.manual_seed(n)


def capture() -> bytes:
    return sys.modules["torch"].default_generator.get_state().numpy().tobytes()


# torch's CPUGeneratorImplState after manual_seed(n): the seed (uint64), `left` = 1,
# `seeded` = true, `next` = 0 and padding, the 624 key words widened to uint64, then the cached
# normal samples (all zero: manual_seed clears them).
_HEADER = struct.Struct("<QiIII")
_TRAILER = bytes(40)


def seeded_state(seed: int) -> bytes:
    """What capture() returns right after seed(seed) (torch 2.x's layout), without torch.
    Checked against the captured state when a run is written: a layout torch changes is
    caught there and the digests are then stored as they were captured."""
    return _HEADER.pack(seed, 1, 1, 0, 0) + key_bytes(seed, 8) + _TRAILER


def restore(state: bytes) -> None:
    torch = sys.modules["torch"]
    torch.default_generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
