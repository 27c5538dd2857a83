"""Reading objects one at a time from one long-lived `git cat-file --batch`: a check of a whole
history holds one object in memory, never a batch of them (a run file can be 100 MB)."""
from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from types import TracebackType

from gitstore.errors import GitStoreError
from gitstore.gitcmd import git_env


def _start(cwd: str | os.PathLike[str], mode: str) -> subprocess.Popen[bytes]:
    if shutil.which("git") is None:
        raise GitStoreError("git is not installed or not on PATH (install git)")
    return subprocess.Popen(["git", "cat-file", mode], cwd=cwd, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=git_env())


def _send(proc: subprocess.Popen[bytes], names: Sequence[str]) -> None:
    """Ask for objects by name (their answers come back in the same order)."""
    stdin = proc.stdin
    assert stdin is not None
    for name in names:
        if "\n" in name:
            raise GitStoreError(f"object name with a newline: {name!r}")
    try:
        stdin.write(b"".join(n.encode("utf-8", "surrogateescape") + b"\n" for n in names))
        stdin.flush()
    except (BrokenPipeError, OSError) as exc:
        raise GitStoreError(f"git cat-file stopped answering ({exc})") from None


def _header(proc: subprocess.Popen[bytes]) -> list[str] | None:
    """The header line of the next answer: [sha, kind, size], or None when it is missing."""
    stdout = proc.stdout
    assert stdout is not None
    try:
        header = stdout.readline().decode(errors="replace").split()
    except OSError as exc:
        raise GitStoreError(f"git cat-file stopped answering ({exc})") from None
    if not header:
        raise GitStoreError("git cat-file stopped answering")
    if len(header) != 3 or not header[2].isdigit():
        return None                           # "<name> missing" or "ambiguous"
    return header


def _ask(proc: subprocess.Popen[bytes], name: str) -> list[str] | None:
    """Send one name, read its header line."""
    _send(proc, [name])
    return _header(proc)


IN_FLIGHT_BYTES = 16 * 1024     # a pipe holds 64 KiB


class ObjectStream:
    """`read(name)`: the (sha, kind, bytes) of an object (a sha or `rev:path`), or None;
    `info(name)`: its (sha, kind, size) without reading it."""

    def __init__(self, cwd: str | os.PathLike[str]) -> None:
        self._cwd = cwd
        self._proc = _start(cwd, "--batch")
        self._check: subprocess.Popen[bytes] | None = None

    def read(self, name: str) -> tuple[str, str, bytes] | None:
        return self._body(_ask(self._proc, name))

    def read_many(self, names: Iterable[str]
                  ) -> Iterator[tuple[str, tuple[str, str, bytes] | None]]:
        """(name, what read(name) gives) for each name in order, with names asked before the
        first answer is read: one round trip per object would cost more than reading it. The
        names in flight stay within half a pipe's buffer, so neither side ever blocks the
        other; only one object is held at a time. Nothing else may read from this stream until
        the iteration ends."""
        pending: deque[tuple[str, int]] = deque()
        in_flight = 0
        todo = iter(names)
        following = next(todo, None)
        while True:
            batch: list[str] = []
            while following is not None:
                size = len(following.encode("utf-8", "surrogateescape")) + 1
                if (pending or batch) and in_flight + size > IN_FLIGHT_BYTES:
                    break
                batch.append(following)
                pending.append((following, size))
                in_flight += size
                following = next(todo, None)
            if batch:
                _send(self._proc, batch)
            if not pending:
                return
            name, size = pending.popleft()
            in_flight -= size
            yield name, self._body(_header(self._proc))

    def _body(self, header: list[str] | None) -> tuple[str, str, bytes] | None:
        if header is None:
            return None
        stdout = self._proc.stdout
        assert stdout is not None
        size = int(header[2])
        data = stdout.read(size)
        stdout.read(1)                        # the newline after the contents
        if len(data) != size:
            raise GitStoreError("git cat-file stopped in the middle of an object")
        return header[0], header[1], data

    def info(self, name: str) -> tuple[str, str, int] | None:
        if self._check is None:
            self._check = _start(self._cwd, "--batch-check")
        header = _ask(self._check, name)
        return (header[0], header[1], int(header[2])) if header else None

    def close(self) -> None:
        for proc in (self._proc, self._check):
            if proc is not None:
                for pipe in (proc.stdin, proc.stdout):
                    if pipe is not None:
                        pipe.close()
                proc.wait()

    def __enter__(self) -> ObjectStream:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

