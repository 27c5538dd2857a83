"""What an error-log entry says about a failure: expected/got, severity, how to reproduce it.

Pure functions over the text pytest reports; tested with tables.
"""
from __future__ import annotations

import re
import shlex

MINOR, MODERATE, CRITICAL = "minor", "moderate", "critical"
SEVERITY_MARKS = {MINOR: "⚠️ minor", MODERATE: "❗ moderate", CRITICAL: "🚫 critical"}

_OPERATORS = r"==|!=|<=|>=|<|>|not in|in|is not|is"
_COMPARISON = re.compile(rf"^assert (?P<got>.+?) (?P<op>{_OPERATORS}) (?P<expected>.+)$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
_APPROX = re.compile(r"^(?P<value>\S+) ± \S+$")


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else ""


def assertion_line(message: str) -> str:
    """The `assert …` line of a failure message (`AssertionError: ` prefix removed)."""
    for line in message.strip().splitlines():
        line = line.strip().removeprefix("AssertionError: ").removeprefix("E ").strip()
        if line.startswith("assert "):
            return line
    return ""


def comparison(message: str) -> tuple[str, str, str] | None:
    """(operator, expected, got) of a failed `assert got <op> expected`, or None."""
    match = _COMPARISON.match(assertion_line(message))
    if not match:
        return None
    return match.group("op"), match.group("expected"), match.group("got")


def expected_got(message: str) -> str | None:
    """`Expected 2, got 1` / `Expected < 1e-06, got 2.1e-05`, as the spec's error log shows."""
    parts = comparison(message)
    if parts is None:
        return None
    op, expected, got = parts
    wanted = expected if op == "==" else f"{op} {expected}"
    return f"Expected {wanted}, got {got}"


def _number(text: str) -> float | None:
    approx = _APPROX.match(text.strip())
    text = approx.group("value") if approx else text.strip()
    return float(text) if _NUMBER.match(text) else None


def is_numeric_drift(message: str) -> bool:
    """A comparison of two numbers failed: the result moved, the code did not break."""
    parts = comparison(message)
    if parts is None or parts[0] in ("in", "not in", "is", "is not"):
        return False
    return _number(parts[1]) is not None and _number(parts[2]) is not None


def severity(status: str, when: str, message: str) -> str:
    """⚠️ minor: numeric drift; ❗ moderate: any other failure of the test itself;
    🚫 critical: the test could not run as recorded (error in setup, teardown or collection)."""
    if status == "ERROR" or when in ("setup", "teardown", "collect"):
        return CRITICAL
    return MINOR if is_numeric_drift(message) else MODERATE


def reproduce_command(nodeid: str, base_seed: int, hashseed: str | None,
                      extra: tuple[str, ...] = ()) -> str:
    """The command that re-runs one test with the same per-test seed."""
    env = f"PYTHONHASHSEED={shlex.quote(hashseed)} " if hashseed not in (None, "") else ""
    args = [shlex.quote(nodeid), "--testlog", f"--testlog-seed={base_seed}", *extra]
    return f"{env}pytest {' '.join(args)}"


_TYPE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*): ")


def error_type_from_message(message: str) -> str:
    """The exception type a crash line names (`ValueError: …`); `assert …` is an AssertionError."""
    line = first_line(message)
    if line.startswith("assert ") or assertion_line(message):
        return "AssertionError"
    match = _TYPE.match(line)
    return match.group("type") if match else "Error"


def error_text(error_type: str, message: str, expected_got: str | None) -> str:
    """`AssertionError: Expected 2, got 1`, `ValueError: bad` (the type named once)."""
    detail = expected_got or first_line(message)
    if detail.startswith(f"{error_type}:") or not detail:
        return detail or error_type
    return f"{error_type}: {detail}"
