"""Runs that could not be committed (gpg failed, lock timeout, full disk): kept on disk under
`<git common dir>/testlog/pending/<id>/` until `git testlog commit-pending` commits them.

Layout of one entry: `meta.json` (commit metadata and the settings it was recorded with) and
`files/<path on the branch>` for each file; deletions are listed in meta.json.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import asdict
from typing import Any

from testlog.core import schema
from testlog.core.runfiles import RunBundle
from testlog.core.schema import check_version
from testlog.core.timefmt import utc_compact
from testlog.errors import TestlogError
from testlog.store.state import PENDING, state_path

_META = "meta.json"
_FILES = "files"


def pending_root(common_dir: str) -> str:
    return state_path(common_dir, PENDING)


def new_id() -> str:
    """Sorts in creation order: UTC time, then pid and randomness against collisions."""
    return f"{utc_compact(time.time())}-{time.time_ns() % 10**9:09d}-" \
           f"{os.getpid()}-{secrets.token_hex(3)}"


def save(common_dir: str, bundle: RunBundle, settings: dict[str, Any], error: str) -> str:
    """Write the bundle atomically (a temp dir renamed into place); returns its directory."""
    root = pending_root(common_dir)
    os.makedirs(root, exist_ok=True)
    entry_id = new_id()
    temp = os.path.join(root, f".tmp-{entry_id}")
    meta = {"schema_version": schema.PENDING, "id": entry_id, "error": error,
            "settings": settings,
            **{k: v for k, v in asdict(bundle).items() if k not in ("files", "durations")},
            "deleted": sorted(p for p, data in bundle.files.items() if data is None)}
    for path, data in bundle.files.items():
        if data is not None:
            target = os.path.join(temp, _FILES, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
    os.makedirs(temp, exist_ok=True)
    with open(os.path.join(temp, _META), "w", encoding="utf-8") as handle:
        json.dump(meta, handle, indent=2, sort_keys=True)
    final = os.path.join(root, entry_id)
    os.rename(temp, final)
    return final


def entries(common_dir: str) -> list[str]:
    """Pending entry directories, oldest first."""
    root = pending_root(common_dir)
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, n) for n in sorted(os.listdir(root))
            if not n.startswith(".") and os.path.isfile(os.path.join(root, n, _META))]


def load(entry: str) -> tuple[RunBundle, dict[str, Any]]:
    """(bundle, meta) of one pending entry."""
    try:
        with open(os.path.join(entry, _META), encoding="utf-8") as handle:
            meta = json.load(handle)
    except (OSError, ValueError) as exc:
        raise TestlogError(f"pending run {entry} is unreadable ({exc}); move it aside") from None
    if not isinstance(meta, dict):
        raise TestlogError(f"pending run {entry} is unreadable (not a JSON object); move it aside")
    check_version(meta.get("schema_version"), schema.PENDING, f"pending run {entry}", missing=0)
    files: dict[str, bytes | None] = {p: None for p in meta["deleted"]}
    base = os.path.join(entry, _FILES)
    for folder, _dirs, names in os.walk(base):
        for name in names:
            full = os.path.join(folder, name)
            with open(full, "rb") as handle:
                files[os.path.relpath(full, base).replace(os.sep, "/")] = handle.read()
    bundle = RunBundle(files=files, artifact=meta["artifact"], verdict=meta["verdict"],
                       summary=meta["summary"], trailers=meta["trailers"],
                       timing_path=meta["timing_path"])
    return bundle, meta


def remove(entry: str) -> None:
    shutil.rmtree(entry)
