"""What an error-log entry says about a failure: expected/got, severity, how to reproduce it.

Pure functions over the text pytest reports; tested with tables.
"""
from __future__ import annotations

import re
import shlex

MINOR, MODERATE, CRITICAL = "minor", "moderate", "critical"
SEVERITY_MARKS = {MINOR: "⚠️ minor", MODERATE: "❗ moderate", CRITICAL: "🚫 critical"}

_OPERATORS = r"==|!=|<=|>=|<|>|not in|in|is not|is"
_COMPARISON = re.compile(rf"^assert (?P<left>.+?) (?P<op>{_OPERATORS}) (?P<right>.+)$")
_BARE_TYPE = re.compile(r"^[A-Za-z_][\w.]*:$")
_UNITTEST = re.compile(r"^AssertionError: (?P<left>.+?) != (?P<right>.+?)(?P<tol> within .+)?$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def first_line(message: str) -> str:
    """The message's first line; a bare `AssertionError:` (numpy's messages start so) with the
    next non-empty line."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    if len(lines) > 1 and _BARE_TYPE.match(lines[0]):
        return f"{lines[0]} {lines[1]}"
    return lines[0]


def assertion_line(message: str) -> str:
    """The `assert …` line of a failure message (`AssertionError: ` prefix removed)."""
    for line in message.strip().splitlines():
        line = line.strip().removeprefix("AssertionError: ").removeprefix("E ").strip()
        if line.startswith("assert "):
            return line
    return ""


def comparison(message: str) -> tuple[str, str, str] | None:
    """(operator, left, right) of a failed `assert left <op> right`, or None."""
    match = _COMPARISON.match(assertion_line(message))
    if not match:
        return None
    return match.group("op"), match.group("left"), match.group("right")


def _line_after(message: str, label: str) -> str | None:
    """The text after `label` on the first line of `message` that starts with it."""
    for line in message.splitlines():
        line = line.strip()
        if line.startswith(label):
            return line[len(label):].strip()
    return None


def _approx_sides(message: str) -> tuple[str, str] | None:
    """(expected, got) of a failed pytest.approx comparison: pytest names them."""
    expected, got = _line_after(message, "Expected:"), _line_after(message, "Obtained:")
    if expected is not None and got is not None and "±" in expected:
        return expected, got
    parts = comparison(message)
    if parts is None or parts[0] != "==":
        return None
    left, right = parts[1], parts[2]
    if _is_approx(right) and not _is_approx(left):
        return right, left
    if _is_approx(left) and not _is_approx(right):
        return left, right
    return None


def _is_approx(text: str) -> bool:
    return "±" in text or text.startswith("approx(")


def _numpy_sides(message: str) -> tuple[str, str] | None:
    """(desired, actual) of a failed numpy.testing assertion: numpy names them."""
    desired, actual = _line_after(message, "DESIRED:"), _line_after(message, "ACTUAL:")
    return (desired, actual) if desired is not None and actual is not None else None


# numpy.testing's tolerance assertions (assert_allclose, assert_array_almost_equal,
# assert_almost_equal, assert_approx_equal, the ULP ones) and unittest's assertAlmostEqual.
_TOLERANCE_FAILURES = re.compile(
    r"Not equal to tolerance|not almost equal|not equal to \d+ significant digits|"
    r"not equal to \d+ ULP|not almost equal up to \d+ ULP|"
    r"!= .+ within .+ (places|delta)")
DRIFT_RELATIVE = 1e-6


def expected_got(message: str) -> str | None:
    """`Expected 0.3 ± 3.0e-07, got 0.31`: only where the comparison says which side is the
    expected one (pytest.approx; numpy.testing's desired and actual). None otherwise."""
    sides = _approx_sides(message) or _numpy_sides(message)
    return None if sides is None else f"Expected {sides[0]}, got {sides[1]}"


def left_right(message: str) -> str | None:
    """`Left 45, right 46 (==)` for a failed `assert left <op> right` that does not say which
    side is expected (most don't), or None."""
    if expected_got(message) is not None:
        return None
    parts = comparison(message)
    if parts is not None:
        op, left, right = parts
        return f"Left {left}, right {right} ({op})"
    match = _UNITTEST.match(first_line(message))          # unittest's `first != second`
    if match is None or "\n" in message.strip():
        return None
    return f"Left {match.group('left')}, right {match.group('right')} (==)"


def _number(text: str) -> float | None:
    text = text.strip()
    return float(text) if _NUMBER.match(text) else None


def _is_float_text(text: str) -> bool:
    return any(c in text for c in ".eE")


def is_numeric_drift(message: str) -> bool:
    """A failure that is numeric drift within a tolerance: pytest.approx, numpy.testing's
    tolerance assertions and unittest's assertAlmostEqual, or a float comparison whose two
    operands differ by less than a relative 1e-6. A failing equality of other values (`assert
    45 == 46`) or a threshold missed by far (`assert 0.73 < 0.5`) is not."""
    if _approx_sides(message) is not None or _TOLERANCE_FAILURES.search(message):
        return True
    parts = comparison(message)
    if parts is None or parts[0] not in ("==", "<", "<=", ">", ">="):
        return False
    op, left, right = parts
    a, b = _number(left), _number(right)
    if a is None or b is None or not (_is_float_text(left) or _is_float_text(right)):
        return False
    return abs(a - b) <= DRIFT_RELATIVE * max(abs(a), abs(b))


def severity(status: str, when: str, message: str) -> str:
    """⚠️ minor: numeric drift within a tolerance; ❗ moderate: any other failure of the test
    itself; 🚫 critical: the test could not run as recorded (error in setup, teardown or
    collection)."""
    if status == "ERROR" or when in ("setup", "teardown", "collect"):
        return CRITICAL
    return MINOR if is_numeric_drift(message) else MODERATE


# Appended to a reproduction command when the recorded run was switched on by `--testlog` in
# addopts, which no option turns off: the files go to a fresh temp directory, not the branch.
TEMP_OUT = '--testlog-out "$(mktemp -d)"'


def reproduce_command(nodeid: str, base_seed: int, hashseed: str | None,
                      options: tuple[str, ...] | list[str] = (), shell_tail: str = "") -> str:
    """`python -m pytest <nodeid> --testlog-seed=N [options]`: runs one test once, seeded as
    recorded, committing nothing (`--testlog-seed` without `--testlog` seeds and records
    nothing). `shell_tail` is appended as it is (see TEMP_OUT)."""
    env = f"PYTHONHASHSEED={shlex.quote(hashseed)} " if hashseed not in (None, "", "random") else ""
    args = [shlex.quote(nodeid), f"--testlog-seed={base_seed}", *map(shlex.quote, options)]
    return f"{env}python -m pytest {' '.join(args)}" + (f" {shell_tail}" if shell_tail else "")


_TYPE = re.compile(r"^(?P<type>[A-Za-z_][\w.]*): ")


def error_type_from_message(message: str) -> str:
    """The exception type a crash line names (`ValueError: …`); `assert …` is an AssertionError."""
    line = first_line(message)
    if line.startswith("assert ") or assertion_line(message):
        return "AssertionError"
    match = _TYPE.match(line)
    return match.group("type") if match else "Error"


def error_text(error_type: str, message: str, expected_got: str | None,
               left_right: str | None = None) -> str:
    """`AssertionError: Expected 2, got 1`, `ValueError: bad` (the type named once)."""
    detail = expected_got or left_right or first_line(message)
    if detail.startswith(f"{error_type}:") or not detail:
        return detail or error_type
    return f"{error_type}: {detail}"
