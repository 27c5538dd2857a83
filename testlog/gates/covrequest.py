"""What a coverage invocation is asked (CoverageRequest), and what it asks git on threads
while the tests run (Prefetched): shared by the measuring (covgate) and judging (covjudge)."""
from __future__ import annotations

from dataclasses import dataclass, field

from gitstore import GitStoreError, diff_zero_context

from testlog.core.manifest import Manifest
from testlog.gates.gaterange import GateRange, Ranges
from testlog.gates.invocation import Identity, Invocation, identities_at
from testlog.gates.later import Later
from testlog.gates.outcome import GateOutcome, checked_nothing


@dataclass(frozen=True)
class CoverageRequest:
    selection: str                 # what was selected, in words
    jobs: int = 1
    use_cache: bool = True
    update: bool = False
    gate: bool = False
    allow_empty: bool = False
    ranges: Ranges = field(default_factory=Ranges)
    range_note: str = ""           # why there is no base, when there is none
    from_change: bool = False      # selected by a change: no module touched is not "empty"


def owned_folders(manifest: Manifest) -> list[str]:
    return [manifest.root, *manifest.sources, *manifest.tests]


def gate_range(req: CoverageRequest, manifest: Manifest) -> GateRange | None:
    return req.ranges.of(manifest, owned_folders(manifest)) if req.gate else None


def needs_lines(req: CoverageRequest, manifest: Manifest) -> bool:
    found = gate_range(req, manifest)
    return manifest.patch_target is not None and found is not None and found.start is not None


@dataclass
class Prefetched:
    """What the gate asks git on threads while the tests run: each base's module identities
    (one question per base commit) and each range start's changed lines (one diff each)."""
    identities: dict[str, Later[dict[str, Identity]]] = field(default_factory=dict)
    diffs: dict[str, Later[dict[str, list[int]] | str]] = field(default_factory=dict)


def prefetch(inv: Invocation, req: CoverageRequest, manifests: list[Manifest]) -> Prefetched:
    ahead = Prefetched()
    if not req.gate:
        return ahead
    by_range = [(m, r) for m in manifests if (r := gate_range(req, m)) is not None]
    starts = {r.start for m, r in by_range if m.patch_target is not None and r.start}
    ahead.diffs = {s: diff_later(inv.ws.root, s) for s in sorted(starts)}
    dropping = [(m, r) for m, r in by_range if m.max_drop is not None]
    for r in {id(r): r for _, r in dropping}.values():
        mods = [m for m, other in dropping if other is r]
        found = identities_later(inv, mods, r)
        ahead.identities.update({m.root: found for m in mods})
    return ahead


def diff_later(root: str, start: str) -> Later[dict[str, list[int]] | str]:
    return Later(lambda: changed_lines(root, start))


def identities_later(inv: Invocation, manifests: list[Manifest],
                     found: GateRange) -> Later[dict[str, Identity]]:
    def ask() -> dict[str, Identity]:
        base = found.base
        return identities_at(inv.ws, manifests, base) if base else {}
    return Later(ask)


def changed_lines(root: str, start: str) -> dict[str, list[int]] | str:
    """The added lines from `start` to the working tree, or why git could not say."""
    from testlog.core.patch import added_lines
    try:
        return added_lines(diff_zero_context(root, start))
    except GitStoreError as exc:
        return str(exc)


def empty_outcome(req: CoverageRequest, why: str, passes: bool) -> GateOutcome:
    return checked_nothing("Coverage gate", "coverage", req.selection, why, gate=req.gate,
                           allow_empty=req.allow_empty, passes=passes)
