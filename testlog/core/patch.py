"""Changed-lines (patch) coverage: the lines a change added or modified, from `git diff -U0 -M`,
against coverage.py's own line data (`executed_lines`, `missing_lines` of its JSON report). Pure.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

_HUNK = re.compile(rb"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")
_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b",
            b"f": b"\f", b"r": b"\r", b"v": b"\v"}


def unquote_path(raw: bytes) -> str:
    """A path as git prints it in a diff header: C-quoted when it holds unusual bytes."""
    if not (raw.startswith(b'"') and raw.endswith(b'"')):
        return raw.decode("utf-8", "surrogateescape")
    body, out, i = raw[1:-1], bytearray(), 0
    while i < len(body):
        if body[i:i + 1] == b"\\" and i + 1 < len(body):
            nxt = body[i + 1:i + 2]
            if nxt.isdigit():
                out.append(int(body[i + 1:i + 4], 8))
                i += 4
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        out += body[i:i + 1]
        i += 1
    return bytes(out).decode("utf-8", "surrogateescape")


def added_lines(diff: bytes) -> dict[str, list[int]]:
    """{path in the new version: its added or changed line numbers} of a `git diff -U0` with
    `b/` as the destination prefix. A rename counts only the lines it changed."""
    found: dict[str, set[int]] = {}
    current: str | None = None
    for line in diff.split(b"\n"):
        if line.startswith(b"+++ "):
            path = unquote_path(line[4:].rstrip(b"\r"))
            current = path[2:] if path.startswith("b/") else None    # None: /dev/null
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start, count = int(match.group(1)), int(match.group(2) or b"1")
            found.setdefault(current, set()).update(range(start, start + count))
    return {path: sorted(lines) for path, lines in sorted(found.items()) if lines}


@dataclass(frozen=True)
class PatchCoverage:
    """The changed executable lines of one module and which of them its tests ran."""
    covered: int
    total: int
    uncovered: tuple[str, ...] = ()      # `path:start-end` runs of changed lines not run

    @property
    def percent(self) -> float | None:
        return round(100.0 * self.covered / self.total, 2) if self.total else None


FileLines = tuple[set[int], set[int]]     # (executed, executable) line numbers of one file


def file_lines(entry: dict[str, Any]) -> FileLines:
    """(executed, executable) line numbers of one file of coverage.py's JSON report."""
    executed = {int(n) for n in entry.get("executed_lines", [])}
    missing = {int(n) for n in entry.get("missing_lines", [])}
    return executed, executed | missing


def patch_coverage(changed: dict[str, list[int]], lines: dict[str, FileLines],
                   owned: Callable[[str], bool]) -> PatchCoverage:
    """Coverage of the changed lines of the files `owned` says belong to the module.

    `lines`: {path: (executed, executable)}; a changed file coverage.py did not report (not
    Python, or outside the measured sources) has no executable lines."""
    covered = total = 0
    spans: list[str] = []
    for path, numbers in sorted(changed.items()):
        if not owned(path) or path not in lines:
            continue
        executed, executable = lines[path]
        relevant = [n for n in numbers if n in executable]
        missed = [n for n in relevant if n not in executed]
        total += len(relevant)
        covered += len(relevant) - len(missed)
        spans += [f"{path}:{a}" if a == b else f"{path}:{a}-{b}"
                  for a, b in line_ranges(missed, executable)]
    return PatchCoverage(covered, total, tuple(spans))


def line_ranges(missed: Iterable[int], executable: Iterable[int] = ()) -> list[tuple[int, int]]:
    """Runs of missed lines, joined across lines that are not executable (blank lines,
    comments, docstrings): [3, 4, 6] with 5 a comment -> [(3, 6)]."""
    code = set(executable)
    runs: list[tuple[int, int]] = []
    for number in sorted(set(missed)):
        if runs and not any(n in code for n in range(runs[-1][1] + 1, number)):
            runs[-1] = (runs[-1][0], number)
        else:
            runs.append((number, number))
    return runs


def compact(numbers: Iterable[int]) -> str:
    """[1, 2, 3, 7] -> "1-3,7": line sets stored in reports."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs)


def expand(text: str) -> set[int]:
    """The inverse of compact: "1-3,7" -> {1, 2, 3, 7}; anything malformed is refused."""
    out: set[int] = set()
    for part in filter(None, text.split(",")):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()):
            raise ValueError(f"not a line range: {part!r}")
        first, last = int(low), int(high or low)
        if last < first or last - first > 1_000_000:
            raise ValueError(f"not a line range: {part!r}")
        out.update(range(first, last + 1))
    return out
