"""torch's default CPU generator. Canonical state: `get_state()` bytes, as torch serialises them."""
from __future__ import annotations

import sys

from testlog.rng.base import digest  # noqa: F401  (part of the protocol)

NAME = "torch"
IMPORT_NAME = "torch"


def loaded() -> bool:
    return hasattr(sys.modules.get("torch"), "default_generator")


def seed(n: int) -> None:
    # torch.manual_seed also walks every accelerator backend (~200-400 µs); CUDA has its own module.
    sys.modules["torch"].default_generator.manual_seed(n)


def capture() -> bytes:
    return sys.modules["torch"].default_generator.get_state().numpy().tobytes()


def restore(state: bytes) -> None:
    torch = sys.modules["torch"]
    torch.default_generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
