"""Reading many objects with one git process each: commit ranges, `rev:path` sizes and contents.

One `git cat-file --batch` resolves thousands of `<commit>:<path>` names in C; a process or
a dulwich tree walk per name is what makes whole-branch checks slow.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.history import LogEntry, parse_cat_file_batch


@dataclass(frozen=True)
class ObjectInfo:
    sha: str
    kind: str
    size: int


def _names_input(names: Sequence[str]) -> bytes:
    for name in names:
        if "\n" in name:
            raise GitStoreError(f"object name with a newline: {name!r}")
    return "".join(f"{n}\n" for n in names).encode()


def object_info(cwd: str | os.PathLike[str], names: Sequence[str]) -> list[ObjectInfo | None]:
    """(sha, type, size) of each name (a sha or `rev:path`), None where it does not exist."""
    if not names:
        return []
    out = run_git(["cat-file", "--batch-check"], cwd, input=_names_input(names)).stdout
    lines = out.decode(errors="replace").splitlines()
    if len(lines) != len(names):
        raise GitStoreError(f"git cat-file answered {len(lines)} lines for {len(names)} names")
    return [_parse_info(line) for line in lines]


def _parse_info(line: str) -> ObjectInfo | None:
    parts = line.split(" ")
    if len(parts) != 3 or parts[-1] in ("missing", "ambiguous") or not parts[2].isdigit():
        return None
    return ObjectInfo(parts[0], parts[1], int(parts[2]))


def object_contents(cwd: str | os.PathLike[str], shas: Sequence[str]) -> dict[str, bytes]:
    """The bytes of each existing object id (missing ones are left out)."""
    if not shas:
        return {}
    stream = run_git(["cat-file", "--batch"], cwd, input=_names_input(shas)).stdout
    found, pos = {}, 0
    while pos < len(stream):
        eol = stream.index(b"\n", pos)
        header = stream[pos:eol].decode(errors="replace").split(" ")
        if len(header) != 3 or not header[2].isdigit():
            pos = eol + 1          # "<name> missing"
            continue
        start, end = eol + 1, eol + 1 + int(header[2])
        found[header[0]] = stream[start:end]
        pos = end + 1
    return found


def commits_in_range(cwd: str | os.PathLike[str], tip: str,
                     exclude: str | None = None) -> list[LogEntry]:
    """Commits reachable from `tip` but not from `exclude`, parents before children."""
    args = ["rev-list", "--topo-order", "--reverse", tip] + ([f"^{exclude}"] if exclude else [])
    shas = run_git(args, cwd).stdout
    if not shas.strip():
        return []
    raw = run_git(["cat-file", "--batch"], cwd, input=shas).stdout
    return parse_cat_file_batch(raw)


def changed_paths_between(cwd: str | os.PathLike[str], old: str, new: str) -> list[str]:
    """Paths whose content differs between two commits (added, modified or deleted)."""
    out = run_git(["diff-tree", "-r", "-z", "--name-only", "--no-renames", old, new], cwd).stdout
    return sorted(p.decode("utf-8", errors="replace") for p in out.split(b"\0") if p)


def last_change(cwd: str | os.PathLike[str], tip: str, path: str) -> str | None:
    """The newest commit up to `tip` that changed `path`, or None."""
    out = run_git(["log", "-1", "--format=%H", tip, "--", path], cwd, check=False).stdout
    return out.decode().strip() or None


def changes_per_commit(cwd: str | os.PathLike[str],
                       shas: Sequence[str]) -> dict[str, list[tuple[str, str]]]:
    """{commit: [(A|M|D|T, path), ...]} against each commit's first parent, one git process."""
    found: dict[str, list[tuple[str, str]]] = {sha: [] for sha in shas}
    if not shas:
        return found
    out = run_git(["diff-tree", "--stdin", "--root", "-r", "-z", "--no-renames", "--name-status"],
                  cwd, input=_names_input(shas)).stdout
    tokens = [t.decode("utf-8", errors="replace") for t in out.split(b"\0")]
    current, pos = None, 0
    while pos < len(tokens):
        token = tokens[pos]
        if token in found:
            current, pos = token, pos + 1
        elif current is not None and token and pos + 1 < len(tokens):
            found[current].append((token[0], tokens[pos + 1]))
            pos += 2
        else:
            pos += 1
    return found
