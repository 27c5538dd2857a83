"""Secrets kept off the log branch: what the run's files would otherwise show in clear.

A `Redactor` is built once per run, when the run is written, from the environment pytest saw
and its command line:

- each environment value of REDACT_MIN_LENGTH characters or more becomes `${NAME}`; a value
  made of several words (PYTEST_ADDOPTS, `--opt=value` lists) is also split, and each word
  (and each `=value`) that looks like a secret (`looks_secret`: long, mixing letters and
  digits or cases) is found on its own: the plain words of a command line (`no:randomly`,
  `--tb=short`) are not secrets, and rewriting them would break what reads them back;
- the value of an option whose name says token, secret, password or key (`--api-token=…`,
  `--password …`, `-o api_key=…`, in the command line or in PYTEST_ADDOPTS) becomes
  `<redacted>`, in the recorded command line and wherever else it appears.

It rewrites free text (tracebacks, messages, declared values, the command line) and node ids:
a node id is rewritten the same way in every file it appears in. Pure.
"""
from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence

from testlog.core.envdigest import KEY_ENV, VOLATILE

REDACT_MIN_LENGTH = 6    # shorter values ("1", "true", "C") are everywhere in ordinary text
REDACTED = "<redacted>"
# An option or ini key whose name ends with one of these words holds a secret.
SECRET_WORDS = ("token", "secret", "password", "passwd", "passphrase", "key", "credential",
                "credentials", "apikey")
_WORDS = re.compile(r"[a-z0-9]+")


def secret_name(name: str) -> bool:
    """`--api-token`, `MY_PASSWORD`, `aws_secret_access_key`: a name that says it is secret."""
    return any(word.endswith(SECRET_WORDS) for word in _WORDS.findall(name.lower()))


def _settings_variable(name: str) -> bool:
    """git-testlog's own settings (TESTLOG_SUITE, TESTLOG_BRANCH, …) are configuration, not
    secrets, and their values are in file names on purpose; its key is a secret."""
    return name.startswith("TESTLOG_") and name != KEY_ENV


def looks_secret(word: str) -> bool:
    """A word of a compound value that may be a secret: 8 characters or more, with at least
    two of lowercase letters, uppercase letters and digits."""
    classes = (any(c.islower() for c in word), any(c.isupper() for c in word),
               any(c.isdigit() for c in word))
    return len(word) >= 8 and sum(classes) >= 2


def words(value: str) -> list[str]:
    """The words of a value that holds several (a command line, `a=b c=d`)."""
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def _ini_override(args: Sequence[str], i: int) -> str | None:
    """The `key=value` of an ini override at `i` (`-o k=v`, `-ok=v`, `--override-ini[=]k=v`)."""
    arg = args[i]
    if arg in ("-o", "--override-ini"):
        return args[i + 1] if i + 1 < len(args) else None
    if arg.startswith("--override-ini="):
        return arg[len("--override-ini="):]
    if arg.startswith("-o") and not arg.startswith("--") and len(arg) > 2:
        return arg[2:]
    return None


def option_secrets(args: Sequence[str]) -> list[str]:
    """The values of secret-named options in an argument list (`--x-token=v`, `--x-token v`,
    `-o x_key=v`, `--override-ini=x_key=v`)."""
    found = []
    for i, arg in enumerate(args):
        ini = _ini_override(args, i)
        if ini is not None:
            name, _, value = ini.partition("=")
        elif arg.startswith("-") and "=" in arg:
            name, _, value = arg.partition("=")
        elif arg.startswith("-") and i + 1 < len(args) and not args[i + 1].startswith("-"):
            name, value = arg, args[i + 1]
        else:
            continue
        if value and secret_name(name):
            found.append(value)
    return found


class Redactor:
    """Rewrites text and node ids so that no secret of this run is in them (see above)."""

    def __init__(self, environ: Mapping[str, str], args: Sequence[str] = ()) -> None:
        replacements: dict[str, str] = {}
        for name, value in sorted(environ.items()):
            if (name in VOLATILE and name != KEY_ENV) or _settings_variable(name):
                continue
            placeholder = "${" + name + "}"
            parts = words(value) if len(value.split()) > 1 or "=" in value else []
            options = option_secrets(parts) if parts else []
            if len(value) >= REDACT_MIN_LENGTH:
                replacements.setdefault(value, placeholder)
            for part in parts:
                for piece in (part, part.split("=", 1)[-1]):
                    if looks_secret(piece):
                        replacements.setdefault(piece, placeholder)
            for secret in options:
                replacements[secret] = REDACTED
        self.option_values = option_secrets(list(args))
        for secret in self.option_values:
            if len(secret) >= REDACT_MIN_LENGTH:
                replacements[secret] = REDACTED
        self.replacements = {k: v for k, v in replacements.items() if k}
        # One alternation, longest first (a value inside a longer one loses): one pass over a
        # text finds them all, ~8x faster than a substring search per value.
        self.pattern = re.compile("|".join(
            re.escape(v) for v in sorted(self.replacements, key=len, reverse=True))) \
            if self.replacements else None

    def __call__(self, text: str) -> str:
        """`text` with every secret replaced (longest first)."""
        if self.pattern is None:
            return text
        return self.pattern.sub(lambda m: self.replacements[m.group(0)], text)

    def args(self, args: Iterable[str]) -> list[str]:
        """A command line with each secret option's value `<redacted>` (whatever its length),
        then as text."""
        out, items = [], [str(a) for a in args]
        secrets = set(self.option_values)
        for arg in items:
            if arg in secrets:
                out.append(REDACTED)
                continue
            name, eq, value = arg.rpartition("=")
            out.append(self(f"{name}{eq}{REDACTED}" if eq and value in secrets else arg))
        return out

    def names(self, names: list[str]) -> list[str]:
        """Node ids rewritten; one search over all of them first (most hold no secret)."""
        if self.pattern is None or not self.pattern.search("\n".join(names)):
            return names
        return [self(name) for name in names]
