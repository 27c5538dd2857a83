"""Text from a log branch, made safe to print: a terminal acts on control characters (escape
sequences can move the cursor, rewrite earlier lines, set the window title or, in some
terminals, answer back as if typed), so each one is shown as a visible escape instead. Pure.
"""
from __future__ import annotations

from typing import TextIO

# C0 controls but newline and tab, DEL, C1 controls, and the Unicode controls that reorder
# or hide text (bidi overrides and isolates, zero-width marks): shown as \x1b, \u202e, ...
_CONTROLS = [*range(0x09), *range(0x0b, 0x20), *range(0x7f, 0xa0),
             0x061c, 0x200b, 0x200e, 0x200f, *range(0x202a, 0x202f), *range(0x2066, 0x206a),
             0xfeff]
_ESCAPES = {code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROLS}
_ONE_LINE = {**_ESCAPES, 0x0a: "\\n", 0x09: "\\t"}


def printable(text: str, one_line: bool = False) -> str:
    """`text` with control characters (and newlines and tabs, when `one_line`) escaped, and
    lone surrogates (which no terminal encoding can write) shown as \\udxxx."""
    escaped = text.translate(_ONE_LINE if one_line else _ESCAPES)
    try:
        escaped.encode("utf-8")
    except UnicodeEncodeError:
        escaped = "".join(f"\\u{ord(c):04x}" if 0xd800 <= ord(c) <= 0xdfff else c
                          for c in escaped)
    return escaped


class PrintableStream:
    """Wraps a text stream: everything written to it goes through `printable`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        self.stream.write(printable(text))
        return len(text)

    def __getattr__(self, name: str) -> object:
        return getattr(self.stream, name)
