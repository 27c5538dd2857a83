"""Ledger lines (`ledger/coverage.ndjson`, `ledger/bench.ndjson`): building, parsing, cache look-up."""
from __future__ import annotations

from typing import Any

from testlog.core import branchjson, schema
from testlog.core.canonical import canonical_json
from testlog.errors import TestlogError


def ledger_line(entry: dict[str, Any]) -> bytes:
    return canonical_json({**entry, "schema_version": str(schema.LEDGER)}) + b"\n"


def parse_ledger(data: bytes, name: str) -> list[dict[str, Any]]:
    """Every entry, oldest first; a malformed line or a newer format is an error naming it."""
    entries = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = branchjson.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            raise TestlogError(f"{name} line {number} is not a JSON object "
                               "(the log branch was edited by hand?)")
        schema.check_version(entry.get("schema_version"), schema.LEDGER, f"{name} line {number}")
        entries.append(entry)
    return entries


def cached_entries(entries: list[dict[str, Any]], path: str, tree: str | None,
                   env: str, inputs: dict[str, str] | None = None) -> list[dict[str, Any]]:
    """The latest clean measurement's lines for module folder `path` at `tree` in `env`.

    All lines of the latest invocation that measured it (bench writes one per benchmark). A
    measurement too noisy to judge is no verdict: it is never taken again. `inputs`: the trees
    of the module's declared paths outside its folder (a top-level tests/), which must match too.
    """
    if tree is None:
        return []
    matching = [e for e in entries if e.get("path") == path and e.get("tree") == tree
                and e.get("env_fingerprint") == env and not e.get("dirty")
                and (e.get("inputs") or {}) == (inputs or {})]
    if not matching:
        return []
    run = matching[-1].get("run")
    latest = [e for e in matching if e.get("run") == run]
    return [] if any(e.get("noisy") for e in latest) else latest
