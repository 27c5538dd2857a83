"""`git testlog …`: main(argv) -> exit code, one handler for every user-facing error."""
from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn, TextIO, cast

from gitstore import GitStoreError, GitStoreInputError

from testlog import __version__
from testlog.core.asciitext import ERROR_HANDLER
from testlog.core.printable import PrintableStream, printable
from testlog.errors import TestlogError, UsageError
from testlog.globalopts import command_and_repo

# One module per subcommand under testlog/commands/, each with HELP, add_arguments(), run().
COMMANDS = (
    "log",
    "show",
    "commit-pending",
    "replay",
    "compare",
    "flaky",
    "history",
    "hunt",
    "site",
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


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; with `only`, that subcommand alone (each command's module loads
    what it runs, so building all of them would import every layer: a hook pays for that);
    with `only=""`, no subcommand (`--version` needs none)."""
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
    for name in COMMANDS if only is None else (only,) if only else ():
        module = importlib.import_module(f"testlog.commands.{name.replace('-', '_')}")
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run, trailing=getattr(module, "TRAILING_ARGS", None))
        parsers[name] = command
    parser.set_defaults(parsers=parsers)          # for `git testlog help CMD`
    return parser


def command_named(argv: Sequence[str]) -> str | None:
    """The subcommand `argv` names after the global options, when it is one of COMMANDS."""
    command, _repo, _rest = command_and_repo(argv)
    return command if command in COMMANDS else None


def commands_needed(argv: Sequence[str]) -> str | None:
    """What build_parser needs for `argv`: the command named; none for a bare `--version`;
    else all of them (`help` and usage errors list every command)."""
    named = command_named(argv)
    if named and named != "help":
        return named
    word, _repo, rest = command_and_repo(argv)
    return "" if word == "--version" and not rest else None


def exit_status(exc: Exception) -> int:
    """2 for a wrong command line or input of the user's own (argparse's convention), else 1."""
    if isinstance(exc, TestlogError):
        return exc.exit_status
    return 2 if isinstance(exc, GitStoreInputError) else 1


def unknown_long_option(parser: argparse.ArgumentParser, argv: Sequence[str]) -> str | None:
    """The first `--option` the named subcommand does not know (argparse would first complain
    about a missing required option, hiding the typo: `gate --bogus`)."""
    name = command_named(argv)
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub = subparsers[0].choices.get(name) if name and subparsers else None
    if sub is None or name is None:
        return None
    known = [o for o in sub._option_string_actions if o.startswith("--")]
    for item in list(argv)[list(argv).index(name) + 1:]:
        if item == "--":
            break
        option = item.split("=", 1)[0]
        if option.startswith("--") and not any(k.startswith(option) for k in known):
            return item
    return None


def parse(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """Like parse_args; a command with TRAILING_ARGS also takes its positional arguments after
    its options (`hook pre-push --check bench origin URL`, as git passes them to a shim)."""
    bogus = unknown_long_option(parser, argv or [])
    if bogus:
        parser.error(f"unrecognized arguments: {bogus}")
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
        argv = sys.argv[1:] if argv is None else list(argv)
        parser = build_parser(commands_needed(argv))
        args = parse(parser, argv)
        return args.run(args)
    except (TestlogError, GitStoreError) as exc:
        print(f"git-testlog: error: {printable(str(exc), one_line=True)}", file=sys.stderr)
        return exit_status(exc)
    except KeyboardInterrupt:
        print("git-testlog: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader left (`git testlog log | head`): stop quietly, as git does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def entry() -> None:
    status = main()
    # Done: everything is written and closed. Frozen, the heap is not walked for garbage
    # cycles on the way out (15 to 20 ms of a gate run, more after a large log was read).
    if hasattr(gc, "freeze"):           # CPython's (PyPy has none)
        gc.freeze()
    sys.exit(status)
