"""Describing declared inputs and outputs: a kind, a SHA-256 of the exact value, and for display
the value rounded to 1e-6 beside its exact form (float.hex, or the raw bytes in base64).

Hashes are over a kind-tagged exact encoding, so 1 and 1.0 and "1" all differ, and arrays and
tensors hash by dtype, shape and bytes. NumPy and torch are never imported here: a value is
an array only if its library is already loaded.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import sys
from typing import Any

from testlog.core.canonical import canonical_json, normalise

INLINE_BYTES = 64 * 1024      # raw data kept (base64) up to this size: replay can judge drift
INLINE_ELEMENTS = 64          # rounded element values shown up to this many elements
INLINE_CHARS = 1000           # str values shown up to this length (always hashed)


def sha_of(*parts: bytes) -> str:
    """SHA-256 hex of the parts, concatenated."""
    h = hashlib.sha256()
    for part in parts:
        h.update(part)
    return h.hexdigest()


def _float_exact(value: float) -> str:
    return value.hex() if math.isfinite(value) else repr(value)


def exact_form(value: Any) -> Any:
    """JSON-ready structure with every float as its float.hex string (no rounding anywhere)."""
    if isinstance(value, float):
        return _float_exact(value)
    if isinstance(value, dict):
        return {str(k): exact_form(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [exact_form(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """Lists/dicts with arrays, tensors, sets and tuples turned into JSON types."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (set, frozenset)):
        return [_plain(v) for v in sorted(value, key=repr)]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if _is_ndarray(value) or _is_tensor(value):
        return _plain(value.tolist())
    raise TypeError(_unsupported(value))


def _unsupported(value: Any) -> str:
    return (f"testlog cannot record a value of type {type(value).__qualname__}: use numbers, str, bytes, "
            "lists/dicts of them, numpy arrays or torch tensors")


def _is_ndarray(value: Any) -> bool:
    numpy = sys.modules.get("numpy")
    return numpy is not None and isinstance(value, (numpy.ndarray, numpy.generic))


def _is_tensor(value: Any) -> bool:
    torch = sys.modules.get("torch")
    tensor = getattr(torch, "Tensor", None)
    return tensor is not None and isinstance(value, tensor)


def _scalar(kind: str, shown: Any, encoded: bytes, **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "value": shown, "hash": sha_of(kind.encode(), b":", encoded), **extra}


def _array_fields(kind: str, dtype: str, shape: tuple[int, ...], data: bytes,
                  elements: Any) -> dict[str, Any]:
    shape_text = ",".join(map(str, shape)).encode()
    fields: dict[str, Any] = {"kind": kind, "dtype": dtype, "shape": list(shape),
                              "hash": sha_of(kind.encode(), b":", dtype.encode(), b":",
                                           shape_text, b":", data)}
    if len(data) <= INLINE_BYTES:
        fields["data"] = base64.b64encode(data).decode()
    if elements is not None:
        fields["value"] = elements
    return fields


def _describe_ndarray(value: Any) -> dict[str, Any]:
    numpy = sys.modules["numpy"]
    array = numpy.asarray(value)
    if array.dtype.hasobject:
        return _describe_json(array.tolist())
    shown = array.tolist() if array.size <= INLINE_ELEMENTS and array.dtype.kind in "biuf" else None
    return _array_fields("ndarray", array.dtype.str, array.shape, array.tobytes(order="C"), shown)


def _small_elements(tensor: Any) -> Any:
    if tensor.numel() > INLINE_ELEMENTS or tensor.is_complex():
        return None
    try:
        return tensor.tolist()
    except (TypeError, RuntimeError):    # dtypes without Python scalars (e.g. float8)
        return None


def _describe_tensor(value: Any) -> dict[str, Any]:
    torch = sys.modules["torch"]
    tensor = value.detach().cpu().contiguous()
    data = tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b""
    return _array_fields("tensor", str(tensor.dtype), tuple(tensor.shape), data,
                         _small_elements(tensor))


def _describe_json(value: Any) -> dict[str, Any]:
    plain = _plain(value)
    exact = exact_form(plain)
    encoded = json.dumps(exact, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"kind": "json", "value": plain, "exact": exact,
            "hash": sha_of(b"json:", encoded.encode("utf-8", "surrogatepass"))}


def describe_value(value: Any) -> dict[str, Any]:
    """{"kind", "hash", ...} of one declared value, floats shown rounded to 1e-6 (canonical
    form); raises TypeError for unsupported types."""
    described: dict[str, Any] = normalise(_describe(value))
    return described


def _describe(value: Any) -> dict[str, Any]:
    if value is None:
        return _scalar("none", None, b"")
    if isinstance(value, bool):
        return _scalar("bool", value, b"true" if value else b"false")
    if isinstance(value, int):
        return _scalar("int", int(value), str(int(value)).encode())
    if isinstance(value, float):
        exact = _float_exact(float(value))
        return _scalar("float", float(value), exact.encode(), exact=exact)
    if isinstance(value, str):
        shown = value if len(value) <= INLINE_CHARS else None
        return _scalar("str", shown, value.encode("utf-8", "surrogatepass"), size=len(value))
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        fields: dict[str, Any] = {"size": len(data)}
        if len(data) <= INLINE_BYTES:
            fields["data"] = base64.b64encode(data).decode()
        return {"kind": "bytes", "hash": sha_of(b"bytes:", data), **fields}
    if _is_ndarray(value):
        return _describe_ndarray(value)
    if _is_tensor(value):
        return _describe_tensor(value)
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        return _describe_json(value)
    raise TypeError(_unsupported(value))


def result_hash(outputs: dict[str, dict[str, Any]]) -> str | None:
    """One hash over every declared output's hash; None when the test declared none."""
    if not outputs:
        return None
    return sha_of(canonical_json({name: desc["hash"] for name, desc in outputs.items()}))
