"""Per-test memory and CPU samples at ~1 µs each: /proc/self/statm and process_time.

psutil costs 35-60 µs a sample, more than everything else the recorder does per test.
"""
from __future__ import annotations

import os
import resource

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


class RssReader:
    """Current resident set size in bytes; peak RSS where /proc is missing (macOS, BSD)."""

    def __init__(self) -> None:
        try:
            self._fd: int | None = os.open("/proc/self/statm", os.O_RDONLY)
        except OSError:
            self._fd = None

    def __call__(self) -> int:
        if self._fd is not None:
            return int(os.pread(self._fd, 64, 0).split()[1]) * _PAGE
        return peak_rss()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def peak_rss() -> int:
    """Peak RSS of this process in bytes (ru_maxrss is KiB on Linux, bytes on macOS)."""
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if os.uname().sysname == "Darwin" else value * 1024
