"""Checking the trees of a log branch before anything is read from them.

Everything on a shared log may come from whoever can push to it, and git lets a tree hold
names no checkout would write (`..`, `.git`, `/abs`, control characters, names that are not
UTF-8) and entries that are not files (symlinks, submodules). A log branch holds only plain
files in folders: any other entry, or a name `paths.name_problem` refuses, makes the whole tree
unsafe, so nothing built from it can land outside where it is written.

Two ways in: `check_tree` walks one tree through dulwich (what LogStore reads), judging each tree object
with `tree_problems`; `unsafe_trees` checks a range of history (fetch, verify) from what each
commit changes, listed by git, judging each entry with `entry_problem`. Both apply
`paths.name_problem` to names.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator, MutableSet, Sequence
from dataclasses import dataclass

from dulwich.object_store import BaseObjectStore
from dulwich.objects import ObjectID, Tree

from gitstore.errors import GitStoreError
from gitstore.gitcmd import first_parents, git_chunks
from gitstore.paths import name_problem

MAX_DEPTH = 32                  # folders within folders; the layout needs 3
FILE_MODES = (b"100644", b"100755")
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
            if problem is None and _kind(mode) not in (_FILE, _FOLDER):
                problem = _MODE_NAMES.get(mode, f"an entry of mode {mode.decode()}") + \
                    " where a file or folder is expected"
            if problem is not None:
                found.append((name, problem))
    except ValueError as exc:
        found.append((b"", str(exc)))
    return found


_FILE, _FOLDER = 0o100000, 0o040000


def _kind(mode: bytes) -> int:
    """The file type bits of a tree entry's mode (git reads 100664 as a file, 040000 as a
    folder, as it always has; anything else is a symlink, a submodule or no valid entry)."""
    return int(mode, 8) & 0o170000


def subtrees(raw: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(name, 20-byte id) of each folder of a tree already found safe."""
    for mode, name, sha in entries(raw):
        if _kind(mode) == _FOLDER:
            yield name, sha


def check_tree(store: BaseObjectStore, tree_id: bytes, checked: MutableSet[bytes]) -> None:
    """Raise GitStoreError when the tree `tree_id` (hex) or one below it is unsafe. Trees in
    `checked` are known safe (a tree id names its whole content); once the whole walk found
    nothing unsafe, the trees it read are added to it (never a folder whose content was not
    all found safe)."""
    stack = [(tree_id, b"", 0)]
    found_safe: list[bytes] = []
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
        found_safe.append(sha)
    for sha in found_safe:
        checked.add(sha)


def _join(path: bytes, name: bytes) -> bytes:
    return path + b"/" + name if path and name else path or name


def unsafe(problem: TreeProblem) -> GitStoreError:
    return GitStoreError(f"unsafe tree on the log branch: {problem} (nothing was read from "
                         "it; see `git fsck`)")


def unsafe_trees(cwd: str | os.PathLike[str], tips: Sequence[str],
                 exclude: Sequence[str] = ()) -> list[TreeProblem]:
    """Every unsafe entry of the trees of the commits reachable from `tips` but not from
    `exclude` (whose trees are taken as checked): tree_changes of each, DIFF_COMMITS at a
    time."""
    pairs = first_parents(cwd, tips, exclude)
    seen: dict[tuple[bytes, bytes], bool] = {}
    found: dict[tuple[str, str], TreeProblem] = {}
    for start in range(0, len(pairs), DIFF_COMMITS):
        for problem in tree_changes(cwd, pairs[start:start + DIFF_COMMITS], seen).problems:
            found.setdefault((problem.path, problem.problem), problem)
    return list(found.values())


DIFF_COMMITS = 2_000    # commits per `git diff-tree`: its memory grows with what it has read


@dataclass
class TreeChanges:
    """What each commit adds or changes against its first parent: `files`, {commit: {path:
    blob id}} of its plain files (what its tree holds at those paths), and every unsafe
    entry among them (`problems`, each named once)."""
    files: dict[str, dict[str, str]]
    problems: list[TreeProblem]


def tree_changes(cwd: str | os.PathLike[str], pairs: Sequence[tuple[str, str | None]],
                 seen: dict[tuple[bytes, bytes], bool] | None = None) -> TreeChanges:
    """The entries each commit of `pairs` ((commit, first parent or None)) adds or changes,
    by one `git diff-tree --stdin` (a root commit's against the empty tree): an entry that is
    not in the diff is the parent's own, checked with it, so only what each commit adds or
    changes is looked at: the cost follows the changes, not the size of the trees. `seen`:
    (mode, path) entries judged already, True when safe (a file rewritten by every commit is
    judged once)."""
    seen = {} if seen is None else seen
    changes = TreeChanges({}, [])
    if not pairs:
        return changes
    query = "".join(f"{c} {p}\n" if p else f"{c}\n" for c, p in pairs)
    chunks = git_chunks(["diff-tree", "--stdin", "-r", "-t", "-z", "--root", "--no-renames"], cwd,
                        input=query.encode())
    found: dict[tuple[bytes, str], TreeProblem] = {}
    files: dict[str, str] = {}
    meta: bytes | None = None
    for token in _tokens(chunks):
        if meta is None:
            if token.startswith(b":"):
                meta = token
            else:                           # the commit each diff is headed with
                files = changes.files.setdefault(token.decode("ascii", "replace"), {})
            continue
        fields, path, meta = meta[1:].split(b" "), token, None
        if len(fields) != 5 or fields[4].startswith(b"D"):
            continue
        safe = seen.get((fields[1], path))
        if safe is None:
            problem = entry_problem(fields[1], path)
            seen[(fields[1], path)] = safe = problem is None
            if problem is not None:
                found.setdefault((path, problem), TreeProblem(shown(path), problem))
        if safe and fields[1] in FILE_MODES and (name := _text(path)) is not None:
            files[name] = fields[3].decode("ascii", "replace")
    changes.problems = list(found.values())
    return changes


def _text(path: bytes) -> str | None:
    try:
        return path.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _tokens(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The NUL-ended fields of git's `-z` output, from chunks that may cut one anywhere."""
    rest = b""
    for chunk in chunks:
        fields = (rest + chunk).split(b"\0")
        rest = fields.pop()
        yield from fields
    if rest:
        yield rest


def entry_problem(mode: bytes, path: bytes) -> str | None:
    """Why an entry `git diff-tree` lists (its mode as git writes it, its full path) cannot
    be on a log branch; None when it can."""
    names = path.split(b"/")
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            return problem
    if mode not in (*FILE_MODES, b"040000"):
        return _MODE_NAMES.get(mode, f"an entry of mode {mode.decode()}") + \
            " where a file or folder is expected"
    if len(names) > MAX_DEPTH + (0 if mode == b"040000" else 1):
        return f"folders nested more than {MAX_DEPTH} deep"
    return None
