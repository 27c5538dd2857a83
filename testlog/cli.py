"""`git testlog …`: main(argv) -> exit code, one handler for every user-facing error."""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO, cast

from gitstore import GitStoreError

from testlog import __version__
from testlog.core.asciitext import ERROR_HANDLER
from testlog.core.printable import PrintableStream, printable
from testlog.errors import TestlogError, UsageError

# One module per subcommand under testlog/commands/, each with HELP, add_arguments(), run().
COMMANDS = (
    "log",
    "show",
    "commit-pending",
    "replay",
    "compare",
    "push",
    "fetch",
    "cov",
    "gate",
    "bench",
    "hook",
    "verify",
    "seal",
    "export",
    "prune",
    "help",
)


class _Parser(argparse.ArgumentParser):
    """Usage mistakes are bad input too: one `git-testlog: error:` line, and exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} -h`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="git testlog",
        description="Record, verify and replay test runs on a signed orphan git branch.",
        epilog="Run `git testlog help <command>` (or `git testlog <command> -h`) for a "
               "command's options. Recording itself is `pytest --testlog`.")
    parser.add_argument("--version", action="version", version=f"git-testlog {__version__}")
    parser.add_argument("-C", dest="repo", default=".", metavar="PATH",
                        help="run as if started in PATH (default: the current directory)")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    parsers = {"": parser}
    for name in COMMANDS:
        module = importlib.import_module(f"testlog.commands.{name.replace('-', '_')}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run, trailing=getattr(module, "TRAILING_ARGS", None))
        parsers[name] = command
    parser.set_defaults(parsers=parsers)          # for `git testlog help CMD`
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like parse_args; a command with TRAILING_ARGS also takes its positional arguments after
    its options (`hook pre-push --check bench origin URL`, as git passes them to a shim)."""
    args, extra = parser.parse_known_args(argv)
    trailing = getattr(args, "trailing", None)
    if extra and trailing and not any(item.startswith("-") for item in extra):
        setattr(args, trailing, [*getattr(args, trailing), *extra])
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return args


def degrade_to_ascii() -> None:
    """A terminal that cannot show a character (LANG=C, PYTHONIOENCODING=ascii) gets it in
    ASCII (`->`, `OK`, `\\u00e9`), never a UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", None) == "strict":
            reconfigure(errors=ERROR_HANDLER)


def main(argv: Sequence[str] | None = None) -> int:
    degrade_to_ascii()
    # Much of what commands print comes from a log branch anyone may push to: control
    # characters are shown escaped, never sent to the terminal (core/printable.py).
    streams = sys.stdout, sys.stderr
    sys.stdout = cast(TextIO, PrintableStream(sys.stdout))
    sys.stderr = cast(TextIO, PrintableStream(sys.stderr))
    try:
        return _main(argv)
    finally:
        sys.stdout, sys.stderr = streams


def _main(argv: Sequence[str] | None) -> int:
    try:
        parser = build_parser()
        args = parse(parser, argv)
        return args.run(args)
    except (TestlogError, GitStoreError) as exc:
        print(f"git-testlog: error: {printable(str(exc), one_line=True)}", file=sys.stderr)
        return exc.exit_status if isinstance(exc, TestlogError) else 1
    except KeyboardInterrupt:
        print("git-testlog: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`git testlog log | head`): stop quietly, as git does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entry() -> None:
    sys.exit(main())
