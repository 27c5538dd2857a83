"""The recorded environment against the replay's own, compared before anything is judged.

Bit-identical outputs are promised only on the same platform (OS, architecture, Python,
NumPy, torch): elsewhere numeric outputs are judged with the 1e-8 tolerance. Pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# (field, label): a difference in any of these means another platform.
PLATFORM_FIELDS = (("os", "OS"), ("arch", "architecture"),
                   ("python_implementation", "Python implementation"),
                   ("python_version", "Python"), ("numpy_version", "NumPy"),
                   ("torch_version", "torch"))
# Reported, but results are not promised to depend on them.
INFO_FIELDS = (("cpu", "CPU"), ("os_release", "kernel"))
NAMES_SHOWN = 12
HASHSEED = "PYTHONHASHSEED"
PYCACHE = "PYTHONPYCACHEPREFIX"
REPLAY_SETS = (HASHSEED, PYCACHE)       # what a replay sets in its tests' environment (launch)


@dataclass(frozen=True)
class Difference:
    field: str
    label: str
    recorded: Any
    replayed: Any
    platform: bool               # part of what bit-identity is promised for

    def text(self) -> str:
        return f"{self.label} {self.recorded or 'none'} → {self.replayed or 'none'}"


@dataclass(frozen=True)
class EnvComparison:
    same_platform: bool
    differences: tuple[Difference, ...]
    notes: tuple[str, ...]

    def headline(self) -> str:
        changed = [d.text() for d in self.differences if d.platform]
        if self.same_platform:
            return "same platform: bit-identical outputs demanded"
        return ("platform differs (" + "; ".join(changed) + "): numeric outputs judged with "
                "tolerance 1e-8")

    def as_dict(self) -> dict[str, Any]:
        return {"same_platform": self.same_platform, "headline": self.headline(),
                "differences": [{"field": d.field, "label": d.label, "recorded": d.recorded,
                                 "replayed": d.replayed, "platform": d.platform}
                                for d in self.differences],
                "notes": list(self.notes)}


def field_differences(recorded: dict[str, Any], current: dict[str, Any]) -> list[Difference]:
    out = []
    for fields, platform in ((PLATFORM_FIELDS, True), (INFO_FIELDS, False)):
        for name, label in fields:
            if name in recorded and recorded.get(name) != current.get(name):
                out.append(Difference(name, label, recorded.get(name), current.get(name), platform))
    return out


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (f" and {len(names) - NAMES_SHOWN} more" if len(names) > NAMES_SHOWN else "")


def env_var_note(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """Which environment variables differ, by name only (values are never stored)."""
    before, after = recorded.get("env"), current.get("env")
    if not isinstance(before, dict) or not isinstance(after, dict):
        return None
    keys = [k if isinstance(k := side.get("env_key"), dict) else {} for side in (recorded, current)]
    if keys[0].get("id") != keys[1].get("id"):
        return "environment variables not compared: recorded under another environment key"
    # PYTHONHASHSEED has its own note (a replay sets it even where the recording had none);
    # PYTHONPYCACHEPREFIX is the replay's own (its bytecode cache), never the user's change.
    before = {k: v for k, v in before.items() if k not in REPLAY_SETS}
    after = {k: v for k, v in after.items() if k not in REPLAY_SETS}
    changed = sorted(n for n in before.keys() & after.keys() if before[n] != after[n])
    parts = [f"{label}: {_names(names)}" for label, names in
             (("changed", changed), ("only recorded", sorted(before.keys() - after.keys())),
              ("only here", sorted(after.keys() - before.keys()))) if names]
    return "environment variables " + "; ".join(parts) if parts else None


def hashseed_note(recorded: str | None, current: str | None) -> str | None:
    if recorded in (None, "", "random"):
        return ("PYTHONHASHSEED was not set when recorded: set- and dict-order dependent "
                "results cannot be reproduced")
    if recorded != current:
        return (f"PYTHONHASHSEED is {current or 'unset'} here but was {recorded} when recorded: "
                f"rerun with PYTHONHASHSEED={recorded} (git testlog replay does)")
    return None


def compare_environments(recorded: dict[str, Any], current: dict[str, Any], *,
                         recorded_hashseed: str | None, current_hashseed: str | None,
                         extra_notes: tuple[str, ...] = ()) -> EnvComparison:
    differences = field_differences(recorded, current)
    notes = [n for n in (hashseed_note(recorded_hashseed, current_hashseed),
                         env_var_note(recorded, current)) if n]
    return EnvComparison(not any(d.platform for d in differences), tuple(differences),
                         tuple(notes) + tuple(extra_notes))
