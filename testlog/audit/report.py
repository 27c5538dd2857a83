"""What `verify` found: counts per check, one failure per line naming commit and file."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

ROWS = (
    "commits (one linear chain)",
    "trees (names and modes safe)",
    "signatures by trusted keys",
    "unsigned commits",
    "chronicle events",
    "artifact hashes",
    "records (digests recomputed)",
    "seals (manifest, signature, zip)",
    "retention epochs",
    "last verified tip",
)
COMMITS, TREES, SIGNATURES, UNSIGNED, EVENTS, ARTIFACTS, RECORDS, SEALS, EPOCHS, CONTINUITY = ROWS


@dataclass(frozen=True)
class Failure:
    sha: str
    path: str
    message: str

    def line(self) -> str:
        return f"FAIL {self.sha[:12]} {self.path}: {self.message}"


@dataclass
class Report:
    ref: str
    tip: str
    mode: str
    checked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROWS, 0))
    failed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ROWS, 0))
    failures: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def count(self, row: str, n: int = 1) -> None:
        self.checked[row] += n

    def fail(self, row: str, sha: str, path: str, message: str) -> None:
        self.failed[row] += 1
        self.failures.append(Failure(sha, path, message))

    def add(self, other: Report) -> None:
        """What `other` found (a part of this check), after what this one has."""
        for row in ROWS:
            self.checked[row] += other.checked[row]
            self.failed[row] += other.failed[row]
        self.failures += other.failures
        self.notes += other.notes


def render(report: Report) -> str:
    """The table of checks, notes, then one line per failure and the verdict."""
    width = max(len(r) for r in ROWS)
    lines = [f"verify {report.ref} at {report.tip[:12]} ({report.mode})",
             f"{'check':<{width}}  {'checked':>8}  {'failed':>6}"]
    lines += [f"{row:<{width}}  {report.checked[row]:>8}  {report.failed[row]:>6}" for row in ROWS]
    lines += [f"note: {n}" for n in report.notes]
    lines += [f.line() for f in report.failures]
    verdict = "OK" if report.ok else f"FAILED ({len(report.failures)} failure(s))"
    lines.append(f"verify: {verdict}")
    return "\n".join(lines)


def report_document(reports: list[Report], exit_status: int) -> dict[str, Any]:
    """`verify --json`: what the reports print, as one JSON document (docs/gates.md): the
    checks summed over the chains, every note and failure (each naming its chain), and one
    entry per chain."""
    return {
        "schema_version": 1, "command": "verify",
        "verdict": "pass" if all(r.ok for r in reports) else "fail",
        "exit_status": exit_status,
        "checks": [{"check": row, "checked": sum(r.checked[row] for r in reports),
                    "failed": sum(r.failed[row] for r in reports)} for row in ROWS],
        "notes": [note for r in reports for note in r.notes],
        "failures": [{"chain": r.ref, "commit": f.sha, "path": f.path, "message": f.message}
                     for r in reports for f in r.failures],
        "chains": [{"ref": r.ref, "tip": r.tip, "mode": r.mode,
                    "verdict": "pass" if r.ok else "fail"} for r in reports],
    }
