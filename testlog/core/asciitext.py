"""Text for a terminal whose encoding cannot show every character (LANG=C, an ASCII pipe):
our symbols become ASCII words, any other character a backslash escape. Pure."""
from __future__ import annotations

import codecs

# The symbols git-testlog prints, in the order longer sequences first.
ASCII_FALLBACK = {
    "\u2713": "OK",       # ✓ verified
    "\u26a0": "!",        # ⚠ minor
    "\ufe0f": "",         # the emoji variation selector after ⚠
    "\u2757": "!!",       # ❗ moderate
    "\U0001f6ab": "X",    # 🚫 critical
    "\u2192": "->",       # →
    "\u0394": "delta",    # Δ
    "\u2264": "<=",
    "\u2265": ">=",
    "\u00d7": "x",        # ×
    "\u2026": "...",      # …
    "\u00b1": "+/-",
    "\u2014": "--",       # —
    "\u2013": "-",        # –
    "\u00b5": "u",        # µ
}
ERROR_HANDLER = "testlog.ascii"


def ascii_for(char: str) -> str:
    if char in ASCII_FALLBACK:
        return ASCII_FALLBACK[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def ascii_replace(error: UnicodeError) -> tuple[str, int]:
    """A `codecs` error handler: what cannot be encoded, in ASCII."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    return "".join(ascii_for(c) for c in error.object[error.start:error.end]), error.end


def printable(text: str, encoding: str | None) -> str:
    """`text` as a stream in `encoding` can show it (unchanged when it can)."""
    try:
        text.encode(encoding or "utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode(encoding or "utf-8", ERROR_HANDLER).decode(encoding or "utf-8")
    except LookupError:          # an encoding Python does not know: ASCII is safe
        return text.encode("ascii", ERROR_HANDLER).decode("ascii")


codecs.register_error(ERROR_HANDLER, ascii_replace)
