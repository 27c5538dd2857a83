"""Python's `random` module (its hidden global `random.Random` instance).

Canonical state: index (int32 LE), the 624 Mersenne Twister words (uint32 LE), then the
cached Gaussian: b"\\x00" * 9 when absent, else b"\\x01" + float64 LE.
"""
from __future__ import annotations

import ctypes
import random
import struct
import sys
from typing import Any

from testlog.rng.base import digest  # noqa: F401  (part of the protocol)

NAME = "python"
IMPORT_NAME = None
_WORDS = 624
_RAW = 4 + 4 * _WORDS          # index + key, exactly as CPython's RandomObject lays them out
_NO_GAUSS = b"\x00" * 9

_raw_offset: int | None = None  # offset of `index` inside the object, once verified
_view: tuple[Any, Any] | None = None   # (the instance, a ctypes array over its index+state)
_checked = False


def loaded() -> bool:
    return True


def seed(n: int) -> None:
    random.seed(n)


def _gauss_bytes(gauss: float | None) -> bytes:
    return _NO_GAUSS if gauss is None else b"\x01" + struct.pack("<d", gauss)


def _public_capture() -> bytes:
    _version, internal, gauss = random.getstate()
    words, index = internal[:-1], internal[-1]
    return struct.pack(f"<i{_WORDS}I", index, *words) + _gauss_bytes(gauss)


def _find_raw_offset() -> int | None:
    """Where CPython keeps index+state in the object, checked against getstate()."""
    inst = random._inst
    size = type(inst).__basicsize__
    if sys.implementation.name != "cpython" or sys.byteorder != "little" or size < _RAW:
        return None
    expected = _public_capture()[:_RAW]
    offset = ctypes.string_at(id(inst), size).find(expected)
    return offset if offset > 0 else None


def capture() -> bytes:
    global _raw_offset, _checked
    if not _checked:
        _raw_offset, _checked = _find_raw_offset(), True
    if _raw_offset is None:
        return _public_capture()
    return _raw_capture(random._inst)


def _raw_capture(inst: random.Random) -> bytes:
    global _view
    view = _view
    if view is None or view[0] is not inst:
        # An array mapped once over the live object (which `view` keeps alive): reading it
        # costs a fifth of a ctypes.string_at call.
        offset = _raw_offset or 0      # capture() only comes here once the offset is known
        view = _view = (inst, (ctypes.c_char * _RAW).from_address(id(inst) + offset))
    gauss = inst.gauss_next  # type: ignore[attr-defined]  # CPython's, not in typeshed
    return view[1].raw + (_NO_GAUSS if gauss is None else b"\x01" + struct.pack("<d", gauss))


def seeded_state(seed: int) -> bytes:
    """What capture() returns right after seed(seed), computed without touching the global RNG."""
    _version, internal, _gauss = random.Random(seed).getstate()
    return struct.pack(f"<i{_WORDS}I", internal[-1], *internal[:-1]) + _NO_GAUSS


def restore(state: bytes) -> None:
    index, *words = struct.unpack_from(f"<i{_WORDS}I", state)
    gauss = struct.unpack_from("<d", state, _RAW + 1)[0] if state[_RAW] else None
    random.setstate((3, (*words, index), gauss))
