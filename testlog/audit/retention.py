"""Pure rules of rotation (files leave the tip) and retention (history leaves the branch)."""
from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from testlog.core import branchjson, layout, schema

_HEX = {"previous_tip": 40, "boundary": 40, "bundle_sha256": 64, "chronicle_sha256_before": 64}


def rotation_candidates(paths: Sequence[str], cutoff: date) -> list[str]:
    """Dated run files (runs/, timing/, ...) whose date is before `cutoff`."""
    out = []
    for path in paths:
        day = layout.artifact_day(path)
        if day is not None and day < cutoff and path.split("/", 1)[0] in layout.ROTATED_DIRS:
            out.append(path)
    return sorted(out)


def retention_boundary(author_times: Sequence[int], cutoff: int) -> int | None:
    """Index (in chain order, oldest first) of the newest commit written before `cutoff`.

    Everything up to it leaves the branch; None when no commit is that old. Author time is
    used because rebuilding a commit on a new epoch keeps it (the committer time changes).
    """
    older = [i for i, t in enumerate(author_times) if t < cutoff]
    return older[-1] if older else None


def epoch_record(**fields: Any) -> dict[str, Any]:
    return {"schema_version": schema.EPOCH, **fields}


def epoch_record_problems(data: bytes) -> tuple[dict[str, Any] | None, list[str]]:
    """(record, problems) of an epoch file: the fields verify relies on must be well formed."""
    try:
        record = branchjson.loads(data)
    except ValueError:
        return None, ["epoch record is not JSON"]
    if not isinstance(record, dict):
        return None, ["epoch record is not an object"]
    problems = [f"epoch record field {k} is not {n} hex digits" for k, n in _HEX.items()
                if not re.fullmatch(f"[0-9a-f]{{{n}}}", str(record.get(k, "")))]
    if not isinstance(record.get("bundle"), str) or "/" in record.get("bundle", "/"):
        problems.append("epoch record field bundle is not a file name")
    return (record if not problems else None), problems
