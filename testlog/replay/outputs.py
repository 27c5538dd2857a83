"""Comparing a test's declared outputs with their record: which differ, and by how much.

An output that moved is *drift* when only its floats moved, each by at most
max(1e-8, DRIFT_RELATIVE × the output's largest magnitude): the same result computed a little
differently.
Anything else (another shape, string, integer, or a float that is simply another number,
like a fresh random draw) is a hash mismatch. Pure; NumPy is imported only to decode arrays.
"""
from __future__ import annotations

import base64
import math
import sys
from dataclasses import dataclass
from typing import Any

from testlog.core.triage import TOLERANCE

DRIFT_RELATIVE = 1e-3
_TORCH_FLOATS = {"torch.float64": "<f8", "torch.float32": "<f4", "torch.float16": "<f2"}


@dataclass(frozen=True)
class OutputDiff:
    name: str
    recorded: str | None         # hash; None: not declared when recorded
    replayed: str | None         # hash; None: not declared by the replay
    delta: float | None          # max |Δ| over its floats, when both have the same structure
    drift: bool                  # only floats moved, and each only slightly

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "recorded_hash": self.recorded, "replayed_hash": self.replayed,
                "delta": self.delta, "drift": self.drift}


def _float(exact: Any) -> float:
    return float.fromhex(exact) if isinstance(exact, str) and exact.startswith(("0x", "-0x")) \
        else float(exact)


def _walk_json(value: Any, exact: Any, shape: list[Any], floats: list[float]) -> None:
    """Structure (everything but float values) into `shape`, the floats into `floats`."""
    if isinstance(value, float) and not isinstance(value, bool):
        shape.append("f")
        floats.append(_float(exact))
    elif isinstance(value, dict) and isinstance(exact, dict):
        shape.append(("{", tuple(sorted(value))))
        for key in sorted(value):
            _walk_json(value[key], exact.get(key), shape, floats)
    elif isinstance(value, list) and isinstance(exact, list) and len(value) == len(exact):
        shape.append(("[", len(value)))
        for v, e in zip(value, exact):
            _walk_json(v, e, shape, floats)
    else:
        shape.append(repr(value))


def _array_dtype(desc: dict[str, Any]) -> str | None:
    dtype = desc.get("dtype", "")
    if desc.get("kind") == "tensor":
        return "bfloat16" if dtype == "torch.bfloat16" else _TORCH_FLOATS.get(dtype)
    return dtype if len(dtype) == 3 and dtype[1] == "f" else None


def _array_floats(desc: dict[str, Any]) -> Any:
    numpy = __import__("numpy")
    raw = base64.b64decode(desc["data"])
    dtype = _array_dtype(desc)
    if dtype == "bfloat16":
        return (numpy.frombuffer(raw, "<u2").astype("<u4") << 16).view("<f4").astype("f8")
    return numpy.frombuffer(raw, dtype).astype("f8")


def _has_numpy() -> bool:
    """Arrays are compared element by element with numpy; without it, by their hashes alone."""
    try:
        __import__("numpy")
    except ImportError:
        return False
    return True


def decompose(desc: dict[str, Any]) -> tuple[Any, Any] | None:
    """(structure, floats) of an output description; None when it has no comparable floats."""
    kind = desc.get("kind")
    if kind == "float":
        return ("float",), [_float(desc.get("exact", desc.get("value")))]
    if kind == "json":
        shape: list[Any] = []
        floats: list[float] = []
        _walk_json(desc.get("value"), desc.get("exact"), shape, floats)
        return (("json", tuple(shape)), floats) if floats else None
    if kind in ("ndarray", "tensor") and _array_dtype(desc) and "data" in desc and _has_numpy():
        return (kind, desc["dtype"], tuple(desc.get("shape", ()))), _array_floats(desc)
    return None


def _delta_lists(a: list[float], b: list[float]) -> tuple[float | None, bool]:
    worst, scale = 0.0, 0.0
    for x, y in zip(a, b):
        if x == y or (math.isnan(x) and math.isnan(y)):
            scale = max(scale, abs(x)) if math.isfinite(x) else scale
            continue
        if not (math.isfinite(x) and math.isfinite(y)):
            return None, False
        worst, scale = max(worst, abs(x - y)), max(scale, abs(x), abs(y))
    return worst, worst <= max(TOLERANCE, DRIFT_RELATIVE * scale)


def _delta_arrays(a: Any, b: Any) -> tuple[float | None, bool]:
    numpy = sys.modules["numpy"]
    same = (a == b) | (numpy.isnan(a) & numpy.isnan(b))
    if not (numpy.isfinite(a) | same).all() or not (numpy.isfinite(b) | same).all():
        return None, False
    if not a.size:
        return 0.0, True
    with numpy.errstate(invalid="ignore"):
        worst = float(numpy.where(same, 0.0, numpy.abs(a - b)).max())
        both = numpy.concatenate((a, b))
        scale = float(numpy.abs(both[numpy.isfinite(both)]).max())   # some element differs: finite
    return worst, worst <= max(TOLERANCE, DRIFT_RELATIVE * scale)


def decoded(desc: dict[str, Any]) -> tuple[Any, Any] | None:
    """decompose(), or None when a recorded description cannot be decoded (hand-edited or
    hostile): such an output is judged by its hash alone."""
    try:
        return decompose(desc)
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        return None


def output_diff(name: str, recorded: dict[str, Any] | None,
                replayed: dict[str, Any] | None) -> OutputDiff:
    rec_hash = recorded.get("hash") if recorded else None
    rep_hash = replayed.get("hash") if replayed else None
    parts = (decoded(recorded), decoded(replayed)) if recorded and replayed else (None, None)
    if parts[0] is None or parts[1] is None or parts[0][0] != parts[1][0] \
            or len(parts[0][1]) != len(parts[1][1]):
        return OutputDiff(name, rec_hash, rep_hash, None, False)
    if isinstance(parts[0][1], list):
        delta, drift = _delta_lists(parts[0][1], parts[1][1])
    else:
        delta, drift = _delta_arrays(parts[0][1], parts[1][1])
    return OutputDiff(name, rec_hash, rep_hash, delta, drift and delta is not None)


def compare_outputs(recorded: dict[str, dict[str, Any]],
                    replayed: dict[str, dict[str, Any]]) -> list[OutputDiff]:
    """The outputs whose hash differs (or that only one side declared), by name."""
    diffs = []
    for name in sorted(recorded.keys() | replayed.keys()):
        rec, rep = recorded.get(name), replayed.get(name)
        if rec is not None and rep is not None and rec.get("hash") == rep.get("hash"):
            continue
        diffs.append(output_diff(name, rec, rep))
    return diffs


def drift_delta(diffs: list[OutputDiff]) -> float | None:
    """For triage: 0.0 when nothing differs, the max |Δ| when every difference is drift,
    None when any difference is not (a hash mismatch)."""
    if any(not d.drift for d in diffs):
        return None
    return max((d.delta or 0.0 for d in diffs), default=0.0)


def max_delta(diffs: list[OutputDiff]) -> float | None:
    """The largest |Δ| measured (drift or not); None when nothing numeric could be measured."""
    deltas = [d.delta for d in diffs if d.delta is not None]
    return max(deltas) if deltas else None
