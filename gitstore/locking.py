"""Serialising writers: a kernel lock for our own writers, and recovery from killed ones."""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from dulwich.object_store import BaseObjectStore, DiskObjectStore
from dulwich.objects import ShaFile

from gitstore.errors import GitStoreError
from gitstore.objectfiles import GIT_LOOSE_COMPRESSION, write_loose_object

# git holds a ref lock for milliseconds; one unchanged for this long was left by a killed writer.
STALE_REF_LOCK_SECONDS = 1.0


@contextmanager
def write_lock(path: str, timeout: float) -> Iterator[None]:
    """Exclusive flock on `path`; the kernel releases it if the holder dies."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        handle = open(path, "a")
    except OSError as exc:
        raise GitStoreError(f"cannot write to the repository ({exc.strerror}: {path}); "
                            "check its permissions") from exc
    deadline = time.monotonic() + timeout
    with handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise GitStoreError(
                        f"timed out after {timeout:.0f}s waiting for the log branch lock {path} "
                        "(another writer of this log branch is running)") from None
                time.sleep(0.005)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def try_lock(path: str) -> IO[str] | None:
    """An exclusive flock on `path` taken without waiting (the open handle holds it), or None
    when someone else holds it."""
    handle = open(path, "a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


def _lock_identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_mtime_ns


def clear_stale_ref_lock(ref_path: str) -> None:
    """Remove `<ref>.lock` if it stays unchanged for STALE_REF_LOCK_SECONDS.

    Called only while holding the write lock, so none of our writers owns it: either a
    git command holds it for milliseconds, or a killed writer of ours left it behind.
    """
    lock = ref_path + ".lock"
    first = _lock_identity(lock)
    if first is None:
        return
    deadline = time.monotonic() + STALE_REF_LOCK_SECONDS
    while time.monotonic() < deadline:
        time.sleep(0.01)
        if _lock_identity(lock) != first:
            return
    try:
        os.unlink(lock)
    except FileNotFoundError:
        pass


def add_object(store: BaseObjectStore, obj: ShaFile, level: int = GIT_LOOSE_COMPRESSION) -> int:
    """Store one object loose; safe against a concurrent writer of the same object and kills.

    Returns the disk bytes it added (0 when the object was already there).
    """
    if not isinstance(store, DiskObjectStore):      # in memory: nothing can collide or crash
        store.add_object(obj)
        return 0
    return write_loose_object(store, obj, level)


def sweep_leftovers(objects_dir: str, max_age: float = 3600.0) -> None:
    """Delete temporary object files and packs a killed writer left (git gc does not remove
    dulwich's `.lock` and `tmpXXXX.pack` files)."""
    now = time.time()
    candidates = []
    for sub in os.listdir(objects_dir):
        full = os.path.join(objects_dir, sub)
        if len(sub) == 2 and os.path.isdir(full):
            candidates += [os.path.join(full, n) for n in os.listdir(full)
                           if n.endswith(".lock") or n.startswith("tmp_obj_")]
    pack_dir = os.path.join(objects_dir, "pack")
    if os.path.isdir(pack_dir):
        names = set(os.listdir(pack_dir))
        # Temporary files, and a .pack whose .idx never followed (killed between the renames).
        candidates += [os.path.join(pack_dir, n) for n in names if n.startswith("tmp")
                       or (n.endswith(".pack") and n[:-5] + ".idx" not in names)]
    for path in candidates:
        try:
            if now - os.stat(path).st_mtime > max_age:
                os.unlink(path)
        except FileNotFoundError:
            pass
