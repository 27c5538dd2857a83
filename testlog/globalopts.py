"""The global options before a subcommand (`git testlog -C PATH <command> ...`), read without
argparse: the console script needs the command and the repository before anything loads."""
from __future__ import annotations

from collections.abc import Sequence


def command_and_repo(argv: Sequence[str]) -> tuple[str | None, str, list[str]]:
    """(the word after the global options, the `-C PATH` given (else "."), the rest)."""
    rest, repo = list(argv), "."
    while rest:
        item = rest.pop(0)
        if item == "-C":
            repo = rest.pop(0) if rest else repo
        elif item.startswith("-C"):
            repo = item[2:]
        else:
            return item, repo, rest
    return None, repo, []
