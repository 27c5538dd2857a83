"""The fields a `module.manifest.json` may hold: a typo is refused, never silently ignored.

Fields of a project's own start with `x-` (at any level) and are left alone. Pure.
"""
from __future__ import annotations

from typing import Any

# field -> its own known fields (None: a value, not checked further here)
Fields = dict[str, "Fields | None"]
KNOWN: Fields = {
    "$schema": None,
    "module": None,
    "tags": None,
    "sources": None,
    "testing": {
        "coverage_target": None, "max_drop": None, "patch_target": None, "tests": None,
        "coverage_observed": None, "observed_at": None,
    },
    "performance": {
        "sla_targets": {"latency_p95_ms": None},
        "max_regression": None,
        "observed": None,          # written back by `bench --update-manifests`
    },
}


def check_known_fields(data: dict[str, Any], known: Fields = KNOWN, prefix: str = "") -> str | None:
    """What is wrong (`testing.max_dorp is not a known field ...`), or None."""
    for name in sorted(data):
        if name.startswith("x-"):
            continue
        if name not in known:
            return unknown(prefix + name, name, known, prefix)
        inner, value = known[name], data[name]
        if inner is not None and isinstance(value, dict):
            problem = check_known_fields(value, inner, f"{prefix}{name}.")
            if problem:
                return problem
    return None


def unknown(full: str, name: str, known: Fields, prefix: str) -> str:
    import difflib  # only for a typo
    close = difflib.get_close_matches(name, [k for k in known if not k.startswith("$")], n=1)
    hint = f" (did you mean {prefix}{close[0]}?)" if close else ""
    choices = ", ".join(prefix + k for k in known if not k.startswith("$"))
    return (f"{full} is not a known field{hint}; known here: {choices}; fields of your own "
            "start with \"x-\"")
