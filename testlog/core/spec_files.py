"""The full format's files of a run, rendered from its compact run file: `run.json` (every
record, as spec VI writes it), `timing.json` (one row per test) and `determinism.json` (the
seeds and RNG states of every test, and the digest of the OS entropy each drew). What `export` and `seal` hand to auditors; a run recorded
in the full format already has them. Pure."""
from __future__ import annotations

from typing import Any

from testlog.core import branchjson, layout, schema
from testlog.core.canonical import canonical_json, dumps_normal
from testlog.core.compact import (
    CompactError,
    Deriver,
    expand_line,
    parse_compact,
    records_digest,
    timing_row,
)
from testlog.core.timefmt import IsoClock


def _join(items: list[bytes]) -> bytes:
    return b"[" + b",".join(items) + b"]"


def spec_files(artifact: str, compact: bytes, determinism: dict[str, Any] | None,
               derive: Deriver) -> dict[str, bytes]:
    """{path: bytes} of the full-format files of the compact run at `artifact`; CompactError
    when the file is damaged or its records do not rebuild to those the recorder signed."""
    run = parse_compact(compact, artifact)
    clock = IsoClock()
    records, timing, entries, signatures = [], [], [], []
    for number, raw in enumerate(run.lines, 2):
        try:
            line = branchjson.loads(raw)
        except ValueError:
            raise CompactError(f"{artifact}: line {number} is not JSON") from None
        if not isinstance(line, dict):
            raise CompactError(f"{artifact}: line {number} is not an object")
        record = expand_line(line, run.defaults, derive, clock)
        signatures.append(record["signature"])
        records.append(dumps_normal(record))
        try:
            timing.append(dumps_normal(timing_row(line)))
        except (TypeError, ValueError, ArithmeticError) as exc:   # the numbers of a hostile line
            raise CompactError(f"{artifact}: line {number}: its timing is unreadable "
                               f"({exc!r})") from None
        entry = {"test_name": record["test_name"], "seed": record["seed"],
                 "rng_state": record["rng_state"], "rng_state_after": record["rng_state_after"]}
        if "entropy" in record:
            entry["entropy"] = record["entropy"]
        entries.append(dumps_normal(entry))
    if records_digest(signatures) != run.records_sha256:
        raise CompactError(f"{artifact}: the records rebuilt from it differ from those recorded")
    version = str(schema.RUN).encode()
    header = dict(determinism or {"schema_version": schema.RUN})
    det_head = canonical_json({k: v for k, v in header.items() if k != "tests"})
    return {
        layout.sibling_path(artifact, "run", "json"):
            b'{"records":' + _join(records) + b',"run":' + canonical_json(run.run)
            + b',"schema_version":' + version + b"}",
        layout.sibling_path(artifact, "timing", "json"):
            b'{"schema_version":' + version + b',"tests":' + _join(timing) + b"}",
        layout.sibling_path(artifact, "determinism", "json"):
            det_head[:-1] + (b"," if len(det_head) > 2 else b"") + b'"tests":' + _join(entries) + b"}",
    }

