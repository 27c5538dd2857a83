"""`module.manifest.json`: parsing, validation, lane defaults and the observed values written back.

Pure functions over text (gates.selection.load_manifest reads the file).
"""
from __future__ import annotations

import json
import math
import os
import posixpath
from dataclasses import dataclass, field
from typing import Any

from testlog.core.manifest_fields import check_known_fields
from testlog.errors import UsageError

MANIFEST = "module.manifest.json"
LANES = ("L0", "L1", "L2", "L3", "L4", "L5")
LANE_TARGETS = {"L0": 70.0, "L1": 75.0, "L2": 80.0, "L3": 85.0, "L4": 90.0, "L5": 90.0}
# Percentage points a module's coverage may fall below its base (None: no delta check).
LANE_MAX_DROP: dict[str, float | None] = {"L0": None, "L1": None, "L2": 1.0, "L3": 0.5,
                                          "L4": 0.5, "L5": 0.5}
# Percent of the changed executable lines the tests must run: the lane's coverage target from L2.
LANE_PATCH_TARGET: dict[str, float | None] = {"L0": None, "L1": None, "L2": 80.0, "L3": 85.0,
                                              "L4": 90.0, "L5": 90.0}
DEFAULT_LANE = "L2"
TESTS_FOLDER = "tests"
BENCHMARKS_FOLDER = "benchmarks"


@dataclass(frozen=True)
class Manifest:
    name: str               # the `module` field, or the folder name when absent
    root: str               # repository-relative folder ("" for the repository root)
    lane: str
    coverage_target: float
    latency_p95_ms: float | None = None
    max_drop: float | None = None          # percentage points below the base
    patch_target: float | None = None      # percent of changed executable lines covered
    max_regression: float | None = None    # factor over the base's p95
    tests: tuple[str, ...] = ()            # repository-relative test paths
    sources: tuple[str, ...] = ()          # repository-relative source folders
    tests_declared: bool = False           # `testing.tests` given (not the default)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def label(self) -> str:
        return self.root or "."

    @property
    def path(self) -> str:
        return manifest_path(self.root)


def manifest_path(root: str) -> str:
    return f"{root}/{MANIFEST}" if root else MANIFEST


def _fail(root: str, field_name: str, problem: str) -> UsageError:
    return UsageError(f"{manifest_path(root)}: {field_name} {problem}")


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


def max_drop(data: dict[str, Any], root: str, lane: str) -> float | None:
    """`testing.max_drop`: absent takes the lane's default, null turns the check off."""
    testing = _section(data, root, "testing")
    if "max_drop" not in testing:
        return LANE_MAX_DROP[lane]
    value = testing["max_drop"]
    if value is None:
        return None
    if not _number(value) or value < 0:
        raise _fail(root, "testing.max_drop", f"is {value!r}; use a number of percentage "
                    "points, 0 or more (null turns the check off)")
    return float(value)


def patch_target(data: dict[str, Any], root: str, lane: str) -> float | None:
    """`testing.patch_target`: absent takes the lane's default, null turns the check off."""
    testing = _section(data, root, "testing")
    if "patch_target" not in testing:
        return LANE_PATCH_TARGET[lane]
    value = testing["patch_target"]
    if value is None:
        return None
    if not _number(value) or not 0 <= value <= 100:
        raise _fail(root, "testing.patch_target", f"is {value!r}; use a number from 0 to 100 "
                    "(null turns the check off)")
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


def max_regression(data: dict[str, Any], root: str) -> float | None:
    value = _section(data, root, "performance").get("max_regression")
    if value is None:
        return None
    if not _number(value) or value < 1:
        raise _fail(root, "performance.max_regression", f"is {value!r}; use a factor of 1 or "
                    "more over the base's p95, e.g. 1.10")
    return float(value)


def inside_repository(root: str, path: Any, where: str) -> str:
    """`path` (relative to the module folder) as a repository-relative path; refused when it
    is not a relative path or leaves the repository."""
    if not isinstance(path, str) or not path.strip():
        raise _fail(root, where, f"holds {path!r}; use paths relative to the module folder")
    if posixpath.isabs(path) or "\\" in path or (len(path) > 1 and path[1] == ":"):
        raise _fail(root, where, f"holds {path!r}, an absolute path; use a path relative to "
                    "the module folder, inside the repository")
    joined = posixpath.normpath(posixpath.join(root, path)) if root else posixpath.normpath(path)
    if joined == ".." or joined.startswith("../"):
        raise _fail(root, where, f"holds {path!r}, which is outside the repository")
    if ".git" in joined.split("/"):
        raise _fail(root, where, f"holds {path!r}, inside .git")
    return "" if joined == "." else joined


def path_list(data: dict[str, Any], root: str, where: str, section: dict[str, Any], key: str,
              default: tuple[str, ...]) -> tuple[tuple[str, ...], bool]:
    """(repository-relative paths, whether they were declared) of a path-list field."""
    if key not in section:
        return default, False
    value = section[key]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise _fail(root, where, "must be a non-empty list of paths relative to the module folder")
    paths = tuple(dict.fromkeys(inside_repository(root, p, where) for p in value))
    return paths, True


def default_tests(root: str) -> tuple[str, ...]:
    return (f"{root}/{TESTS_FOLDER}" if root else TESTS_FOLDER,)


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
        raise UsageError(f"{manifest_path(root)}: not valid JSON ({exc}); fix the file") from None
    if not isinstance(data, dict):
        raise UsageError(f"{manifest_path(root)}: must hold a JSON object")
    problem = check_known_fields(data)
    if problem:
        raise UsageError(f"{manifest_path(root)}: {problem}")
    lane = lane_of(data, root)
    tests, declared = path_list(data, root, "testing.tests", _section(data, root, "testing"),
                                "tests", default_tests(root))
    sources, _ = path_list(data, root, "sources", data, "sources", (root,))
    return Manifest(name=module_name(data, root), root=root, lane=lane,
                    coverage_target=coverage_target(data, root, lane),
                    latency_p95_ms=latency_sla(data, root),
                    max_drop=max_drop(data, root, lane),
                    patch_target=patch_target(data, root, lane),
                    max_regression=max_regression(data, root),
                    tests=tests, sources=sources, tests_declared=declared, raw=data)


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
