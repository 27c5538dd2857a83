"""`git testlog help [CMD]`: the help of git testlog, or of one of its commands."""
from __future__ import annotations

import argparse

from testlog.errors import UsageError

HELP = "show the help of git testlog, or of one command (the same as `git testlog CMD -h`)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("topic", nargs="?", default=None, metavar="CMD",
                        help="the command to explain (default: list them all)")


def run(args: argparse.Namespace) -> int:
    """`args.parsers` ({command: its parser, "": the whole tool's}) comes from the CLI."""
    parsers: dict[str, argparse.ArgumentParser] = args.parsers
    topic = args.topic or ""
    if topic not in parsers:
        raise UsageError(f"no command {topic!r} (the commands: "
                         f"{', '.join(name for name in parsers if name)})")
    parsers[topic].print_help()
    return 0
