"""NumPy's legacy global RNG (`np.random.seed`, `np.random.rand`, …): `numpy.random.mtrand._rand`.

Canonical state: the 624 MT19937 key words (uint32 LE), pos (int32 LE), then the cached
Gaussian: has_gauss (1 byte) and its value (float64 LE; 0.0 when absent).

The fast path reads the key/pos through the bit generator's `ctypes.state_address` and the
cached Gaussian from the RandomState object itself, at offsets found and verified against
`get_state()` on a private RandomState once per process; `get_state()` costs ~60-150 µs.
"""
from __future__ import annotations

import ctypes
import struct
import sys
from typing import Any

from testlog.rng.base import digest  # noqa: F401  (part of the protocol)
from testlog.rng.mt19937 import key_bytes

NAME = "numpy"
IMPORT_NAME = "numpy.random"
_KEY_POS = 624 * 4 + 4

_gauss_offset: int | None = None   # offset of aug_state.has_gauss inside a RandomState
_checked = False


def loaded() -> bool:
    return "numpy.random" in sys.modules


def _global():
    return sys.modules["numpy.random"].mtrand._rand


def seed(n: int) -> None:
    _global().seed(n)


def _public_state(rs) -> bytes:
    _name, key, pos, has_gauss, gauss = rs.get_state()
    return (key.astype("<u4").tobytes() + struct.pack("<i", pos)
            + struct.pack("<Bd", has_gauss, gauss if has_gauss else 0.0))


_views: tuple[Any, ...] | None = None    # (RandomState, its bit generator, key/pos array, gauss array)


def _raw_state(rs, offset: int) -> bytes:
    global _views
    views = _views
    bitgen = rs._bit_generator
    if views is None or views[0] is not rs or views[1] is not bitgen:
        # ctypes arrays mapped once over the live objects (which `views` keeps alive):
        # reading them costs a fifth of a ctypes.string_at call.
        views = _views = (rs, bitgen,
                          (ctypes.c_char * _KEY_POS).from_address(bitgen.ctypes.state_address),
                          (ctypes.c_char * 16).from_address(id(rs) + offset))
    has_gauss, gauss = struct.unpack("<i4xd", views[3].raw)
    return views[2].raw + struct.pack("<Bd", has_gauss, gauss if has_gauss else 0.0)


def _pointer_offset(memory: bytes, address: int) -> int:
    return memory.find(struct.pack("<Q", address))


def _find_gauss_offset() -> int | None:
    """has_gauss sits 8 bytes after the aug_state's pointer to the object's own bitgen_t,
    whose first field points at the bit generator's state."""
    if sys.implementation.name != "cpython" or sys.byteorder != "little" or struct.calcsize("P") != 8:
        return None
    # Seeded through a bit generator: RandomState(12345) would draw OS entropy first (its
    # default MT19937 is made from an unseeded SeedSequence), which the entropy capture sees.
    rs = type(_global())(sys.modules["numpy.random"].MT19937(12345))
    memory = ctypes.string_at(id(rs), type(rs).__basicsize__)
    bitgen = _pointer_offset(memory, rs._bit_generator.ctypes.state_address)
    if bitgen <= 0:
        return None
    aug = _pointer_offset(memory, id(rs) + bitgen)
    if aug <= 0 or aug + 24 > len(memory):
        return None
    offset = aug + 8
    for _ in range(3):   # no cached Gaussian, then one cached, then consumed
        if _raw_state(rs, offset) != _public_state(rs):
            return None
        rs.standard_normal()
    return offset


def capture() -> bytes:
    global _gauss_offset, _checked
    if not _checked:
        _gauss_offset, _checked = _find_gauss_offset(), True
    rs = _global()
    return _public_state(rs) if _gauss_offset is None else _raw_state(rs, _gauss_offset)


def seeded_state(seed: int) -> bytes:
    """What capture() returns right after seed(seed), computed without NumPy (see mt19937)."""
    return key_bytes(seed, 4) + struct.pack("<iBd", 624, 0, 0.0)


def restore(state: bytes) -> None:
    import numpy
    key = numpy.frombuffer(state, dtype="<u4", count=624).astype(numpy.uint32)
    pos, has_gauss, gauss = struct.unpack_from("<iBd", state, 624 * 4)
    _global().set_state(("MT19937", key, pos, has_gauss, gauss))
