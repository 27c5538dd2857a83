"""JSON read back from a log branch: anyone who can push may have written it, so it is parsed
with limits (size, nesting) and every failure is a ValueError the reader turns into one line.

Python's json module recurses once per level and raises RecursionError (not ValueError) on a
document nested a few thousand deep; our own walkers recurse too. Pure.
"""
from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

MAX_BYTES = 512 * 1024 * 1024      # a 100,000-test run file is about 220 MB
MAX_DEPTH = 200                    # a record needs 6; a test's declared value may nest more
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BranchJSONError(ValueError):
    """Not JSON, too large, nested too deep, or not UTF-8; `syntax` when it is not JSON at all."""

    def __init__(self, message: str, syntax: bool = False) -> None:
        super().__init__(message)
        self.syntax = syntax


def loads(data: bytes | str, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed document; BranchJSONError saying why it cannot be read."""
    if len(data) > max_bytes:
        raise BranchJSONError(f"larger than {max_bytes} bytes")
    try:
        value = json.loads(data)
    except RecursionError:
        raise BranchJSONError(f"nested more than {max_depth} deep") from None
    except UnicodeDecodeError:
        raise BranchJSONError("not UTF-8") from None
    except ValueError as exc:
        raise BranchJSONError(f"not valid JSON ({exc})", syntax=True) from None
    raw = data if isinstance(data, bytes) else data.encode("utf-8", "surrogatepass")
    # A document cannot nest deeper than it has opening brackets (those inside strings only
    # overcount): most lines of a log (events, a run's test lines) are checked by counting.
    if raw.count(b"[") + raw.count(b"{") > max_depth and depth_exceeds(value, max_depth):
        raise BranchJSONError(f"nested more than {max_depth} deep")
    if _SURROGATE_ESCAPE.search(raw) and not encodable(value):
        raise BranchJSONError("not text: it holds a lone surrogate (\\ud800-\\udfff)")
    return value


_DECODER = json.JSONDecoder()
_WHITESPACE = frozenset(" \t\n\r")


def loads_each(lines: Sequence[bytes], max_depth: int = MAX_DEPTH) -> list[Any]:
    """[loads(line) for each line], with the BranchJSONError a line raises in its place.

    The same values and errors, faster for the many short lines of a run file: the lines are
    decoded as one text and each parsed where it starts, without loads' wrappers; a line that
    is not plainly one ASCII JSON value by itself goes through loads."""
    data = b"\n".join(lines)
    # only plain ASCII without a \uD8xx escape (a lone surrogate is for loads to judge)
    plain = data.isascii() and not _SURROGATE_ESCAPE.search(data)
    text = data.decode("ascii") if plain else None
    needs_depth = data.count(b"[") + data.count(b"{") > max_depth
    values: list[Any] = []
    start = 0
    for line in lines:
        end = start + len(line)
        value = (_plain_value(text, start, end) if text is not None and len(line) <= MAX_BYTES
                 else _NOT_PLAIN)
        if value is _NOT_PLAIN or (needs_depth and line.count(b"[") + line.count(b"{") > max_depth):
            try:
                value = loads(line, max_depth=max_depth)
            except BranchJSONError as exc:
                value = exc
        values.append(value)
        start = end + 1
    return values


_NOT_PLAIN = object()


def _plain_value(text: str, start: int, end: int) -> Any:
    """The JSON value text[start:end] holds, when it is one by itself from its first character
    (then json.loads of those bytes gives the same value: a value ends where it ends, and valid
    JSON holds no NUL that could make json read the bytes as UTF-16 or UTF-32); else _NOT_PLAIN."""
    try:
        value, stop = _DECODER.raw_decode(text, start)
    except (ValueError, RecursionError):
        return _NOT_PLAIN
    if stop > end or any(c not in _WHITESPACE for c in text[stop:end]):
        return _NOT_PLAIN
    return value


def encodable(value: Any) -> bool:
    """Every string (keys included) can be written as UTF-8: no lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            stack += [*item.keys(), *item.values()]
        elif isinstance(item, list):
            stack += item
    return True


def depth_exceeds(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` deep (without recursing)."""
    if not isinstance(value, (dict, list)):
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        nested = [c for c in children if isinstance(c, (dict, list))]
        if nested:
            if depth >= limit:
                return True
            stack += [(c, depth + 1) for c in nested]
    return limit < 1
