"""The files a chain keeps a gate ledger in: one per day (ledger/<kind>/YYYY-MM/DD.ndjson) and
the single file of the first form, read for any number of chains with few git processes.
Everything here is read from a log branch: only paths of the ledger's own shape are read, and
none larger than a run file may be."""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from gitstore import blobs_under, object_contents, object_info

from testlog.core import layout
from testlog.core.branchjson import MAX_BYTES
from testlog.core.canonical import canonical_json
from testlog.core.ledger import parse_ledger
from testlog.errors import TestlogError


def ledger_files(cwd: str | os.PathLike[str], revs: Sequence[str],
                 kind: str) -> list[tuple[str, str, bytes]]:
    """(rev, path, bytes) of each file of ledger `kind` on each of `revs`: rev by rev, the
    first form's file first, then the days in order. A file that is not a blob, is too large
    or has another name is left out."""
    legacy = layout.LEGACY_LEDGERS[kind]
    infos = object_info(cwd, [f"{rev}:{legacy}" for rev in revs]) if revs else []
    wanted: list[tuple[str, str, str]] = []
    for rev, info in zip(revs, infos):
        if info is not None and info.kind == "blob" and info.size <= MAX_BYTES:
            wanted.append((rev, legacy, info.sha))
        wanted += [(rev, path, sha) for path, sha, size in
                   blobs_under(cwd, rev, layout.ledger_folder(kind))
                   if size <= MAX_BYTES and layout.is_ledger_file(kind, path)]
    blobs = object_contents(cwd, sorted({sha for _, _, sha in wanted}))
    return [(rev, path, blobs[sha]) for rev, path, sha in wanted if sha in blobs]


def ledger_lines(cwd: str | os.PathLike[str], revs: Sequence[str], kind: str,
                 notice: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """Every line of ledger `kind` on `revs`, each once, in time order (stable: rev order
    within one time; a line another writer recorded counts as one's own). A file that does not
    parse raises TestlogError, or with `notice` is said and left out."""
    seen: set[bytes] = set()
    lines: list[dict[str, Any]] = []
    for rev, path, data in ledger_files(cwd, revs, kind):
        where = f"{path} on {rev}" if rev.startswith("refs/") else f"{path} at {rev[:10]}"
        try:
            parsed = parse_ledger(data, where)
        except TestlogError as exc:
            if notice is None:
                raise
            notice(f"{exc}: left out")
            continue
        for line in parsed:
            key = canonical_json(line)
            if key not in seen:
                seen.add(key)
                lines.append(line)
    lines.sort(key=lambda line: str(line.get("ts", "")))
    return lines
