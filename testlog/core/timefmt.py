"""UTC times as the log writes them (spec IV: ISO 8601, `Z`): the one place that formats them."""
from __future__ import annotations

import time
from datetime import datetime, timezone

UTC_SECONDS = "%Y-%m-%dT%H:%M:%SZ"


def utc_iso(seconds: float) -> str:
    """`2025-11-01T12:00:00Z` for seconds since the epoch."""
    return time.strftime(UTC_SECONDS, time.gmtime(seconds))


def utc_now() -> str:
    """Now, to the second."""
    return utc_iso(time.time())


def utc_text(moment: datetime) -> str:
    """A timezone-aware moment in UTC, to the second."""
    return moment.astimezone(timezone.utc).strftime(UTC_SECONDS)


def utc_compact(seconds: float) -> str:
    """`20251101T120000Z`: sorts like the time, fits in a file name."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def to_microsecond(ns: int) -> int:
    """`ns` truncated to the microsecond, the finest unit a record reports (`duration_ms` has
    three decimals): the nanosecond digits of a test's clocks are noise that no reader uses and
    that no compression removes (~10 bytes per test per run on the packed log)."""
    return ns - ns % 1000


class IsoClock:
    """UTC ISO 8601 with milliseconds and `Z`; the seconds part cached (most tests share it)."""

    def __init__(self) -> None:
        self._second, self._text = -1, ""

    def __call__(self, wall_ns: int) -> str:
        second, rest = divmod(wall_ns, 1_000_000_000)
        if second != self._second:
            self._second = second
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._text}.{rest // 1_000_000:03d}Z"
