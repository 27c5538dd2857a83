"""A module's coverage at the base commit: from the ledger when it was measured there in this
environment, else measured now in a checkout of the base (and recorded), else the reason it
could not be (the gate then says so and judges the absolute target only)."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from gitstore import GitStoreError

from testlog.core.gates import NEW_MODULE, BaseCoverage
from testlog.core.ledger import cached_entries
from testlog.core.manifest import Manifest, manifest_path, parse_manifest
from testlog.errors import TestlogError
from testlog.gates.checkouts import Checkouts
from testlog.gates.coverage import CovOutcome, existing_tests, measure_at
from testlog.gates.invocation import Begin, Identity, Invocation, identity_at
from testlog.gates.later import Later
from testlog.gates.pytest_run import ERROR

SHORT = 7


@dataclass
class BaseMeasurer:
    """Bases of one invocation: one checkout per base commit, shared by its modules."""
    inv: Invocation
    checkouts: Checkouts
    lines: list[dict[str, Any]] = field(default_factory=list)     # ledger lines measured now

    def from_ledger(self, manifest: Manifest, tree: str, inputs: dict[str, str]) -> float | None:
        hits = cached_entries(list(self.inv.entries), manifest.label, tree,
                              self.inv.interp.fingerprint, inputs)
        usable = [h for h in hits if isinstance(h.get("coverage"), (int, float))]
        return float(usable[-1]["coverage"]) if usable else None

    def find(self, manifest: Manifest, commit: str, current: CovOutcome, begin: Begin,
             identity: Later[dict[str, Identity]] | None = None) -> BaseCoverage:
        """`identity`: the modules' identities at `commit`, when asked on a thread already."""
        try:
            tree, inputs = identity.result()[manifest.root] if identity else \
                identity_at(self.inv.ws, manifest, commit)
        except GitStoreError as exc:
            return BaseCoverage(commit, None, f"its tree cannot be read: {exc}")
        if tree is None:
            return BaseCoverage(commit, None, NEW_MODULE)
        known = self.from_ledger(manifest, tree, inputs)
        if known is not None:
            return BaseCoverage(commit, known)
        return self.measure(manifest, commit, (tree, inputs), current, begin)

    def measure(self, manifest: Manifest, commit: str, identity: tuple[str, dict[str, str]],
                current: CovOutcome, begin: Begin) -> BaseCoverage:
        try:
            where = self.checkouts.folder(commit)
        except GitStoreError as exc:
            return BaseCoverage(commit, None, f"its tree no longer checks out: {exc}")
        try:
            base_manifest = self.base_manifest(where, manifest)
        except TestlogError as exc:
            return BaseCoverage(commit, None, f"its manifest there: {exc}")
        if base_manifest is None:
            return BaseCoverage(commit, None, NEW_MODULE)
        tests = existing_tests(where, base_manifest)
        if not tests:
            return BaseCoverage(commit, None, "the module had no tests there")
        outcome = measure_at(self.inv, base_manifest, begin, where, tests, kind=f"base{commit}",
                             what=f"base {commit[:SHORT]} is not in the ledger: running the "
                                  "base's tests under coverage")
        problem = unusable(outcome, current)
        if problem:
            return BaseCoverage(commit, None, problem, measured=True)
        self.lines.append(self.ledger_line(base_manifest, commit, identity, outcome))
        return BaseCoverage(commit, outcome.coverage, measured=True)

    def base_manifest(self, where: str, manifest: Manifest) -> Manifest | None:
        path = os.path.join(where, manifest_path(manifest.root))
        if not os.path.isfile(path):
            return None
        with open(path, encoding="utf-8", errors="replace") as handle:
            return parse_manifest(handle.read(), manifest.root)

    def ledger_line(self, manifest: Manifest, commit: str, identity: tuple[str, dict[str, str]],
                    outcome: CovOutcome) -> dict[str, Any]:
        """A base measured now joins the ledger like any other (it serves the next gate)."""
        tree, inputs = identity
        line = self.inv.base_line(manifest)
        line.update(tree=tree, dirty=False, source_commit=commit, coverage=outcome.coverage,
                    tests=outcome.status, lane=manifest.lane, target=manifest.coverage_target,
                    role="base")
        line.pop("report", None)
        line.pop("inputs", None)
        return {**line, "inputs": inputs} if inputs else line


def unusable(outcome: CovOutcome, current: CovOutcome) -> str:
    """Why a base measurement cannot serve as the reference ("" when it can)."""
    if outcome.status == ERROR or outcome.coverage is None:
        return "pytest could not run its tests there"
    ran_nothing = outcome.lines is not None and not any(ex for ex, _ in outcome.lines.values())
    if ran_nothing and outcome.status == "passed" and (current.coverage or 0) > 0:
        return ("its tests ran no line of the checked-out sources (is the project installed "
                "in editable mode? the tests then import the working tree)")
    return ""

