"""`module.manifest.json`: parsing, validation, lane targets and the observed values written back.

Pure functions over text (gates.selection.load_manifest reads the file).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from typing import Any

from testlog.errors import TestlogError

MANIFEST = "module.manifest.json"
LANE_TARGETS = {"L0": 70.0, "L1": 75.0, "L2": 80.0, "L3": 85.0, "L4": 90.0, "L5": 90.0}
DEFAULT_LANE = "L2"


@dataclass(frozen=True)
class Manifest:
    name: str               # the `module` field, or the folder name when absent
    root: str               # repository-relative folder ("" for the repository root)
    lane: str
    coverage_target: float
    latency_p95_ms: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.root or "."


def manifest_path(root: str) -> str:
    return f"{root}/{MANIFEST}" if root else MANIFEST


def _fail(root: str, field_name: str, problem: str) -> TestlogError:
    return TestlogError(f"{manifest_path(root)}: {field_name} {problem}")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def lane_of(data: dict[str, Any], root: str) -> str:
    tags = data.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(root, "tags", "must be a list of strings like \"lane:L2\"")
    lanes = [t[len("lane:"):] for t in tags if t.startswith("lane:")]
    if len(lanes) > 1:
        raise _fail(root, "tags", f"has {len(lanes)} lane tags; keep one of lane:L0..lane:L5")
    lane = lanes[0] if lanes else DEFAULT_LANE
    if lane not in LANE_TARGETS:
        raise _fail(root, "tags", f"has unknown lane {lane!r}; use one of lane:L0..lane:L5")
    return lane


def _section(data: dict[str, Any], root: str, name: str) -> dict[str, Any]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _fail(root, name, "must be an object")
    return value


def coverage_target(data: dict[str, Any], root: str, lane: str) -> float:
    value = _section(data, root, "testing").get("coverage_target")
    if value is None:
        return LANE_TARGETS[lane]
    if not _number(value) or not 0 <= value <= 100:
        raise _fail(root, "testing.coverage_target", f"is {value!r}; use a number from 0 to 100")
    return float(value)


def latency_sla(data: dict[str, Any], root: str) -> float | None:
    performance = _section(data, root, "performance")
    targets = performance.get("sla_targets", {})
    if not isinstance(targets, dict):
        raise _fail(root, "performance.sla_targets", "must be an object")
    value = targets.get("latency_p95_ms")
    if value is None:
        return None
    if not _number(value) or value <= 0:
        raise _fail(root, "performance.sla_targets.latency_p95_ms",
                    f"is {value!r}; use a positive number of milliseconds")
    return float(value)


def module_name(data: dict[str, Any], root: str) -> str:
    name = data.get("module", os.path.basename(root) or ".")
    if not isinstance(name, str) or not name.strip():
        raise _fail(root, "module", "must be a non-empty string")
    return name


def parse_manifest(text: str, root: str) -> Manifest:
    """The validated manifest of the module at `root`; errors name the file and the field."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise TestlogError(f"{manifest_path(root)}: not valid JSON ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise TestlogError(f"{manifest_path(root)}: must hold a JSON object")
    lane = lane_of(data, root)
    return Manifest(name=module_name(data, root), root=root, lane=lane,
                    coverage_target=coverage_target(data, root, lane),
                    latency_p95_ms=latency_sla(data, root), raw=data)


def with_observed_coverage(data: dict[str, Any], coverage: float, observed_at: str) -> dict[str, Any]:
    """A copy of the manifest data with `testing.coverage_observed` and `observed_at` set."""
    testing = {**data.get("testing", {}), "coverage_observed": coverage, "observed_at": observed_at}
    return {**data, "testing": testing}


def with_observed_latency(data: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
    """A copy of the manifest data with `performance.observed` replaced by `observed`."""
    performance = {**data.get("performance", {}), "observed": observed}
    return {**data, "performance": performance}


def manifest_text(data: dict[str, Any]) -> str:
    """Key order kept, two-space indent, trailing newline: small diffs in the user's repository."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
