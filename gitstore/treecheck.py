"""Checking the trees of a log branch before anything is read from them.

Everything on a shared log may come from whoever can push to it, and git lets a tree hold
names no checkout would write (`..`, `.git`, `/abs`, control characters, names that are not
UTF-8) and entries that are not files (symlinks, submodules). A log branch holds only plain
files in folders: any other entry, or a name `paths.name_problem` refuses, makes the whole tree
unsafe, so nothing built from it can land outside where it is written.

Two ways in: `check_tree` walks one tree through dulwich (what LogStore reads), and
`unsafe_trees` checks every tree of a range of history with two git processes (fetch, verify).
Both judge one tree object at a time with `tree_problem`.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, MutableSet, Sequence
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore
from dulwich.objects import ObjectID, Tree

from gitstore.errors import GitStoreError
from gitstore.gitcmd import run_git
from gitstore.paths import name_problem

MAX_DEPTH = 32                  # folders within folders; the layout needs 3
FILE_MODES = (b"100644", b"100755")
TREE_MODE = b"40000"
_MODE_NAMES = {b"120000": "a symlink", b"160000": "a submodule (gitlink)"}

# One tree whose every entry is a file or folder with a name name_problem accepts: checked in
# C by one match. Anything else goes the slow way, which also says what is wrong.
_UTF8_CHAR = (rb"(?:[\x20-\x2e\x30-\x5b\x5d-\x7e]|\xc2[\xa0-\xbf]|[\xc3-\xdf][\x80-\xbf]"
              rb"|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
              rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}"
              rb"|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2})")
_SAFE_NAME = (rb"(?=[^\x00]{1,255}\x00)(?![. ]*\x00)(?!(?i:\.git)[. ]*\x00)"   # <= 255 bytes
              + _UTF8_CHAR + rb"+")
_SAFE_TREE = re.compile(rb"(?:(?:100644|100755|40000) " + _SAFE_NAME + rb"\x00.{20})*", re.S)
_ENTRY = re.compile(rb"([0-7]{1,6}) ([^\x00]*)\x00", re.S)


@dataclass(frozen=True)
class TreeProblem:
    path: str            # where in the tree, shown escaped
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def shown(path: bytes) -> str:
    """A path as a message may show it: escaped, never acted on by a terminal."""
    return ascii(path.decode("utf-8", "backslashreplace"))[1:-1] if path else "(the top)"


def entries(raw: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(mode, name, 20-byte id) of each entry of a raw tree; ValueError when malformed."""
    pos = 0
    while pos < len(raw):
        found = _ENTRY.match(raw, pos)
        end = found.end() + 20 if found else 0
        if found is None or end > len(raw):
            raise ValueError("a malformed tree object")
        yield found.group(1), found.group(2), raw[found.end():end]
        pos = end


def tree_problems(raw: bytes) -> list[tuple[bytes, str]]:
    """(name, why) for each entry of one raw tree that cannot be on a log branch."""
    if _SAFE_TREE.fullmatch(raw):
        return []
    found: list[tuple[bytes, str]] = []
    try:
        for mode, name, _sha in entries(raw):
            problem = name_problem(name)
            if problem is None and mode not in FILE_MODES and mode != TREE_MODE:
                problem = _MODE_NAMES.get(mode, f"an entry of mode {mode.decode()}") + \
                    " where a file or folder is expected"
            if problem is not None:
                found.append((name, problem))
    except ValueError as exc:
        found.append((b"", str(exc)))
    return found


def subtrees(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(name, 20-byte id) of each folder of a tree already found safe."""
    for mode, name, sha in entries(raw):
        if mode == TREE_MODE:
            yield name, sha


def check_tree(store: BaseObjectStore, tree_id: bytes, checked: MutableSet[bytes]) -> None:
    """Raise GitStoreError when the tree `tree_id` (hex) or one below it is unsafe. Trees in
    `checked` are known safe (a tree id names its whole content); safe ones are added to it."""
    stack = [(tree_id, b"", 0)]
    while stack:
        sha, path, depth = stack.pop()
        if sha in checked:
            continue
        if depth > MAX_DEPTH:
            raise unsafe(TreeProblem(shown(path), f"folders nested more than {MAX_DEPTH} deep"))
        try:
            kind, raw = store.get_raw(ObjectID(sha))
        except KeyError:
            raise GitStoreError(f"tree {sha.decode()} of the log branch is missing "
                                "(run `git fsck`)") from None
        if kind != Tree.type_num:
            raise unsafe(TreeProblem(shown(path), "a folder that is not a tree object"))
        problems = tree_problems(raw)
        if problems:
            name, problem = problems[0]
            raise unsafe(TreeProblem(shown(_join(path, name)), problem))
        stack += [(child.hex().encode(), _join(path, name), depth + 1)
                  for name, child in subtrees(raw)]
        checked.add(sha)


def _join(path: bytes, name: bytes) -> bytes:
    return path + b"/" + name if path and name else path or name


def unsafe(problem: TreeProblem) -> GitStoreError:
    return GitStoreError(f"unsafe tree on the log branch: {problem} (nothing was read from "
                         "it; see `git fsck`)")


def unsafe_trees(cwd: str | os.PathLike[str], tips: Sequence[str],
                 exclude: Sequence[str] = ()) -> list[TreeProblem]:
    """Every problem of every tree reachable from `tips` but not from `exclude` (commits)."""
    args = ["rev-list", "--objects", "--filter=object:type=tree", "--filter-provided-objects",
            *tips, *(f"^{sha}" for sha in exclude), "--"]
    listing = run_git(args, cwd).stdout
    paths: dict[str, bytes] = {}
    for line in listing.split(b"\n"):
        sha, _, path = line.partition(b" ")
        if len(sha) == 40 and all(c in b"0123456789abcdef" for c in sha):
            paths.setdefault(sha.decode(), path)
    if not paths:
        return []
    stream = run_git(["cat-file", "--batch"], cwd,
                     input="".join(f"{sha}\n" for sha in paths).encode()).stdout
    found = []
    for sha_hex, kind, raw in _batch(stream):
        path = paths.get(sha_hex, b"?")
        if kind != b"tree":
            continue                    # commits given as tips are listed too
        if path.count(b"/") >= MAX_DEPTH:
            found.append(TreeProblem(shown(path), f"folders nested more than {MAX_DEPTH} deep"))
        found += [TreeProblem(shown(_join(path, name)), problem)
                  for name, problem in tree_problems(raw)]
    return found


def _batch(stream: bytes) -> Iterator[tuple[str, bytes, bytes]]:
    pos = 0
    while pos < len(stream):
        eol = stream.index(b"\n", pos)
        header = stream[pos:eol].split(b" ")
        if len(header) != 3:
            pos = eol + 1           # "<name> missing"
            continue
        start = eol + 1
        end = start + int(header[2])
        yield header[0].decode(), header[1], stream[start:end]
        pos = end + 1
