"""Runs that could not be committed (gpg failed, lock timeout, full disk): kept on disk under
`<git common dir>/testlog/pending/<id>/` until `git testlog commit-pending` commits them.

Layout of one entry: `meta.json` (commit metadata, the settings it was recorded with and the
SHA-256 of each file) and `files/<path on the branch>` for each file; deletions are listed in
meta.json. An entry is written as `.tmp-<id>/` (meta.json first) and renamed into place whole:
a save that fails removes what it wrote; a writer killed meanwhile leaves a partial entry,
which `commit-pending` completes when every file is there (the digests say so) or removes
once its writer is gone.

When not even pending can be written (a full disk, a read-only .git), the same entry goes to a
fallback directory in the system temp directory, usually another filesystem.
"""
from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Any

from testlog.core import schema
from testlog.core.runfiles import RunBundle
from testlog.core.schema import check_version
from testlog.core.timefmt import utc_compact
from testlog.errors import TestlogError
from testlog.store.state import PENDING, state_path

_META = "meta.json"
_FILES = "files"
PARTIAL = ".tmp-"
FALLBACK_DIR = "testlog-runs"        # <temp dir>/testlog-runs-<uid>/<id>/


def pending_root(common_dir: str) -> str:
    return state_path(common_dir, PENDING)


def fallback_root() -> str:
    return os.path.join(tempfile.gettempdir(), f"{FALLBACK_DIR}-{os.getuid()}")


def new_id() -> str:
    """Sorts in creation order: UTC time, then pid and randomness against collisions."""
    return f"{utc_compact(time.time())}-{time.time_ns() % 10**9:09d}-" \
           f"{os.getpid()}-{secrets.token_hex(3)}"


def save(common_dir: str, bundle: RunBundle, settings: dict[str, Any], error: str,
         root: str | None = None) -> str:
    """Write the bundle atomically (a temp dir renamed into place) under `root` (default the
    repository's pending folder); returns its directory. On any failure nothing is left."""
    root = root or pending_root(common_dir)
    os.makedirs(root, mode=0o700, exist_ok=True)
    entry_id = new_id()
    temp = os.path.join(root, f"{PARTIAL}{entry_id}")
    written = {p: data for p, data in bundle.files.items() if data is not None}
    meta = {"schema_version": schema.PENDING, "id": entry_id, "error": error,
            "settings": settings, "repository": common_dir,
            **{k: v for k, v in asdict(bundle).items() if k not in ("files", "durations")},
            "deleted": sorted(p for p, data in bundle.files.items() if data is None),
            "sha256": {p: hashlib.sha256(data).hexdigest() for p, data in sorted(written.items())}}
    try:
        os.makedirs(temp)
        with open(os.path.join(temp, _META), "w", encoding="utf-8") as handle:
            json.dump(meta, handle, indent=2, sort_keys=True)
        for path, data in written.items():
            target = os.path.join(temp, _FILES, *path.split("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as handle:
                handle.write(data)
        final = os.path.join(root, entry_id)
        os.rename(temp, final)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return final


def entries(common_dir: str) -> list[str]:
    """Pending entry directories, oldest first."""
    root = pending_root(common_dir)
    if not os.path.isdir(root):
        return []
    return [os.path.join(root, n) for n in sorted(os.listdir(root))
            if not n.startswith(".") and os.path.isfile(os.path.join(root, n, _META))]


@dataclass(frozen=True)
class Partial:
    """An entry a writer did not finish saving (killed meanwhile, or still at it)."""
    path: str
    whole: bool              # meta.json and every file it lists are there, digests matching
    files: int               # files found
    expected: int | None     # files meta.json lists (None: no readable meta.json)
    writer_alive: bool

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def describe(self) -> str:
        if self.writer_alive:
            return f"{self.name}  partial: being saved by process {writer_pid(self.name)}"
        if self.whole:
            return f"{self.name}  partial but whole: commit-pending completes it"
        of = f" of {self.expected}" if self.expected is not None else ""
        return (f"{self.name}  partial: {self.files}{of} files, its writer stopped while saving "
                "it; commit-pending removes it")


def writer_pid(name: str) -> int | None:
    parts = name.removeprefix(PARTIAL).split("-")
    return int(parts[-2]) if len(parts) >= 2 and parts[-2].isdigit() else None


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def partials(common_dir: str) -> list[Partial]:
    root = pending_root(common_dir)
    if not os.path.isdir(root):
        return []
    return [inspect(os.path.join(root, n)) for n in sorted(os.listdir(root))
            if n.startswith(PARTIAL) and os.path.isdir(os.path.join(root, n))]


def inspect(path: str) -> Partial:
    files = _files_of(path)
    alive = _alive(writer_pid(os.path.basename(path)))
    try:
        with open(os.path.join(path, _META), encoding="utf-8") as handle:
            digests = json.load(handle)["sha256"]
        assert isinstance(digests, dict)
    except (OSError, ValueError, KeyError, TypeError, AssertionError):
        return Partial(path, False, len(files), None, alive)
    whole = set(files) == set(digests) and all(
        hashlib.sha256(data).hexdigest() == digests[p] for p, data in files.items())
    return Partial(path, whole, len(files), len(digests), alive)


def settle_partials(common_dir: str) -> list[str]:
    """Complete the partial entries that are whole, remove those whose writer is gone; the
    lines saying what was done."""
    lines = []
    for partial in partials(common_dir):
        if partial.writer_alive:
            continue
        if partial.whole:
            final = os.path.join(os.path.dirname(partial.path), partial.name[len(PARTIAL):])
            os.rename(partial.path, final)
            lines.append(f"completed {partial.name[len(PARTIAL):]}: a writer stopped just "
                         "before renaming it into place")
        else:
            shutil.rmtree(partial.path)
            lines.append(f"removed {partial.name}: its writer stopped while saving it "
                         f"({partial.files} files, not the whole run)")
    return lines


def _files_of(entry: str) -> dict[str, bytes]:
    found: dict[str, bytes] = {}
    base = os.path.join(entry, _FILES)
    for folder, _dirs, names in os.walk(base):
        for name in names:
            full = os.path.join(folder, name)
            with open(full, "rb") as handle:
                found[os.path.relpath(full, base).replace(os.sep, "/")] = handle.read()
    return found


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
    try:
        files: dict[str, bytes | None] = {p: None for p in meta["deleted"]}
        files.update(_files_of(entry))
        bundle = RunBundle(files=files, artifact=meta["artifact"], verdict=meta["verdict"],
                           summary=meta["summary"], trailers=meta["trailers"],
                           timing_path=meta["timing_path"])
    except (KeyError, TypeError) as exc:
        raise TestlogError(f"pending run {entry} is unreadable (meta.json lacks {exc}); "
                           "move it aside") from None
    return bundle, meta


def remove(entry: str) -> None:
    shutil.rmtree(entry)
