"""Writing loose objects the way git does: a `tmp_obj_` file, then a hard link into place.

dulwich's own add_object writes through `<sha>.lock`: a second process writing the same object
at that moment gets FileLocked, and a writer killed inside it leaves a lock that blocks that
object forever and that `git fsck` reports. A `tmp_obj_` file left by a killed writer is
ignored by fsck and removed by `git prune`; two writers of one object both succeed.
"""
from __future__ import annotations

import os
import secrets

from dulwich.config import Config
from dulwich.file import adjust_shared_perm
from dulwich.object_store import DiskObjectStore
from dulwich.objects import ShaFile

GIT_LOOSE_COMPRESSION = 1        # git's core.looseCompression default (dulwich uses zlib's 6)


def loose_compression(config: Config) -> int:
    """core.looseCompression, else core.compression, else git's default."""
    for key in (b"looseCompression", b"compression"):
        try:
            return int(config.get((b"core",), key))
        except (KeyError, ValueError):
            continue
    return GIT_LOOSE_COMPRESSION


def write_loose_object(store: DiskObjectStore, obj: ShaFile, level: int) -> None:
    """Store `obj` as a loose object unless it is already there (then refresh its mtime)."""
    sha = obj.id.decode()
    folder = os.path.join(store.path, sha[:2])
    final = os.path.join(folder, sha[2:])
    try:
        os.utime(final, None)    # like git: a fresh mtime keeps `git gc` from pruning it now
        return
    except FileNotFoundError:
        pass
    os.makedirs(folder, exist_ok=True)
    tmp = os.path.join(folder, f"tmp_obj_{secrets.token_hex(6)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(obj.as_legacy_object(compression_level=level))
            if store.fsync_object_files:
                handle.flush()
                os.fsync(handle.fileno())
        if store.shared_perm:
            adjust_shared_perm(tmp, store.shared_perm)
        _move_into_place(tmp, final)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _move_into_place(tmp: str, final: str) -> None:
    try:
        os.link(tmp, final)
    except FileExistsError:
        pass                     # another writer stored the same bytes first
    except OSError:
        os.replace(tmp, final)   # no hard links on this filesystem: same bytes either way
