"""Headless Chromium (Debian's `chromium` package) for the site's tests: load a file:// page,
take its DOM after the scripts ran, what it wrote to the console, and a screenshot.

Console messages are read from Chromium's own log (`--enable-logging=stderr`): it prints every
console message and every uncaught exception as a `CONSOLE` line, without telling a
console.error from a console.log. The site's script logs nothing, so any such line fails a test.
"""
from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

CONSOLE = re.compile(r":CONSOLE(?::\d+)?\] (.*)$")
TIMEOUT_S = 180                     # a loaded 2-core machine starts Chromium slowly


def chromium() -> str:
    """The browser's path; the test is skipped, saying why, where it is not installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium is not installed (`apt-get install -y chromium`, as .ci/run does)")


@dataclass(frozen=True)
class Loaded:
    dom: str
    console: list[str]


def _run(page: Path, profile: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    argv = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--enable-logging=stderr",
            "--v=0", "--virtual-time-budget=5000", *flags, page.resolve().as_uri()]
    return subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S)


def load(page: Path, tmp: Path) -> Loaded:
    """The page's DOM once its scripts ran, and every console line it logged."""
    proc = _run(page, tmp / "chromium-profile", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [m.group(1) for line in proc.stderr.splitlines() if (m := CONSOLE.search(line))]
    return Loaded(proc.stdout, console)


def screenshot(page: Path, png: Path, tmp: Path, width: int = 1280, height: int = 1500) -> Path:
    """A PNG of the page at a laptop's width."""
    proc = _run(page, tmp / "chromium-profile", f"--screenshot={png}",
                f"--window-size={width},{height}", "--hide-scrollbars")
    assert proc.returncode == 0 and png.exists(), proc.stderr[-2000:]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return png
