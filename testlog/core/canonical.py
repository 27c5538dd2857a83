"""Canonical JSON: the same input always gives the same bytes (spec IV: floats to 1e-6)."""
from __future__ import annotations

import hashlib
import json
import math
from typing import Any

FLOAT_DIGITS = 6


def normalise(value: Any) -> Any:
    """Floats rounded to 1e-6 (non-finite ones as strings), tuples as lists, recursively."""
    if isinstance(value, float):
        return round(value, FLOAT_DIGITS) if math.isfinite(value) else repr(value)
    if isinstance(value, dict):
        return {str(k): normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [normalise(v) for v in value]
    return value


# One encoder for every call: json.dumps with options builds a new one each time, which costs
# as much as encoding a small record.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                            allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """UTF-8, sorted keys, compact separators, no ASCII escaping, floats rounded."""
    return _ENCODER.encode(normalise(value)).encode("utf-8")


def dumps_normal(value: Any) -> bytes:
    """canonical_json of a value that is already normal (floats rounded to 1e-6, str keys,
    lists): the same bytes, without walking the value in Python first."""
    return _ENCODER.encode(value).encode("utf-8")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def record_signature(record: dict[str, Any]) -> str:
    """`SHA256:` + digest of the canonical JSON of the record without its `signature` field."""
    body = {k: v for k, v in record.items() if k != "signature"}
    return "SHA256:" + sha256_hex(canonical_json(body))


def signed_record(record: dict[str, Any]) -> dict[str, Any]:
    return {**record, "signature": record_signature(record)}
