"""What one gate (or measurement) invocation found, and the three ways it is said: the text
lines, the `--json` document (docs/gates.md, docs/schemas/gate.schema.json) and the Markdown
summary for `$GITHUB_STEP_SUMMARY`."""
from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, TextIO

from testlog.gates.interpreter import Interpreter

if TYPE_CHECKING:
    from testlog.gates.invocation import Invocation

JSON_VERSION = 1
STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class GateOutcome:
    check: str                     # coverage | bench | tests
    selection: str
    verdict: str                   # pass | fail | empty (checked nothing)
    exit_status: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: str = ""
    modules: list[dict[str, Any]] = field(default_factory=list)
    interpreter: Interpreter | None = None
    ledger_commit: str | None = None
    gate: bool = True

    def with_modules(self, modules: list[dict[str, Any]], inv: Invocation,
                     sha: str | None) -> GateOutcome:
        return replace(self, modules=modules, interpreter=inv.interp, ledger_commit=sha)

    def print_text(self) -> None:
        for line in (*self.problems, *(f"note: {n}" for n in self.notes)):
            print(line)
        if self.summary:
            print(self.summary, flush=True)

    def document(self, command: str) -> dict[str, Any]:
        """The `--json` document (stable: see docs/gates.md)."""
        interp = self.interpreter
        return {
            "schema_version": JSON_VERSION, "command": command, "check": self.check,
            "selection": self.selection, "verdict": self.verdict,
            "exit_status": self.exit_status, "summary": self.summary or None,
            "problems": list(self.problems), "notes": list(self.notes),
            "interpreter": None if interp is None else {
                "path": interp.path, "source": interp.source, "python": interp.python,
                "env_fingerprint": interp.fingerprint},
            "ledger_commit": self.ledger_commit,
            "modules": self.modules,
        }


def checked_nothing(title: str, check: str, selection: str, why: str, *, gate: bool,
                    allow_empty: bool, passes: bool) -> GateOutcome:
    """A gate that checked nothing fails, saying why, unless that is expected (`passes`: the
    change touched no module) or allowed (--allow-empty). A measurement just says so."""
    if not gate:
        return GateOutcome(check, selection, "empty", 0, summary=f"Nothing measured: {why}")
    ok = passes or allow_empty
    hint = "" if passes else (" (allowed by --allow-empty)" if allow_empty
                              else "; pass --allow-empty if that is expected")
    return GateOutcome(check, selection, "empty", 0 if ok else 1,
                       summary=f"{title} checked nothing: {why}{hint}")


def write_step_summary(doc: dict[str, Any]) -> None:
    """Append the gate's Markdown to the file GitHub Actions names in $GITHUB_STEP_SUMMARY."""
    path = os.environ.get(STEP_SUMMARY)
    if not path:
        return
    from testlog.core.gate_markdown import gate_markdown  # only on GitHub Actions
    try:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(gate_markdown(doc))
    except OSError as exc:
        print(f"git-testlog: could not write ${STEP_SUMMARY} ({exc.strerror}: {path})",
              file=sys.stderr)


def print_json(doc: dict[str, Any], stream: Any) -> None:
    stream.write(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    stream.flush()


@contextmanager
def json_mode(enabled: bool) -> Iterator[TextIO]:
    """The stream for the `--json` document: with --json every printed line goes to stderr
    and stdout carries the document alone."""
    real = sys.stdout
    if not enabled:
        yield real
        return
    with redirect_stdout(sys.stderr):
        yield real


def finish(outcome: GateOutcome, command: str, stream: TextIO | None,
           step_summary: bool = True) -> int:
    """Say what the outcome is (text; the JSON document on `stream` when given; the Markdown
    summary when GitHub Actions asks for one); the exit status."""
    outcome.print_text()
    doc = outcome.document(command)
    if step_summary and outcome.gate:
        write_step_summary(doc)
    if stream is not None:
        print_json(doc, stream)
    return outcome.exit_status
