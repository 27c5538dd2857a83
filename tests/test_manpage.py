"""The man page (`git testlog --help`) names every command the CLI has."""
from __future__ import annotations

from pathlib import Path

from testlog.cli import COMMANDS

PAGE = Path(__file__).resolve().parents[1] / "testlog" / "man" / "git-testlog.1"


def test_man_page_lists_every_command():
    listed = {line.split()[1] for line in PAGE.read_text().splitlines() if line.startswith(".B ")}
    assert set(COMMANDS) <= listed, f"add {set(COMMANDS) - listed} to {PAGE.name}"
