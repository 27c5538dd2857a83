"""Environment variables as keyed digests, and their values taken out of free text.

A plain SHA-256 of `USER=alice` is reversed by guessing, so each variable is an HMAC-SHA256
keyed by a per-repository secret (store.environment keeps it). Pure: the caller passes the
environment in.
"""
from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

from testlog.core.canonical import canonical_json

KEY_ENV = "TESTLOG_ENV_KEY"
# Set by pytest or xdist while a run is under way, or the key itself: not part of the environment.
VOLATILE = frozenset({"PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
                      "PYTEST_XDIST_TESTRUNUID", KEY_ENV})
REDACT_MIN_LENGTH = 6    # shorter values ("1", "true", "C") are everywhere in ordinary text


def key_id(key: bytes) -> str:
    """Names the key without revealing it: equal ids mean comparable digests."""
    return hashlib.sha256(b"testlog env key id\0" + key).hexdigest()[:16]


def _hmac(key: bytes, message: bytes) -> str:
    return "hmac-sha256:" + hmac.new(key, message, hashlib.sha256).hexdigest()


def env_digests(environ: Mapping[str, str], key: bytes) -> dict[str, str]:
    """{NAME: "hmac-sha256:<hex>"} over `NAME=value`, for every non-volatile variable."""
    return {name: _hmac(key, f"{name}={value}".encode("utf-8", "surrogateescape"))
            for name, value in sorted(environ.items()) if name not in VOLATILE}


def overall_digest(digests: Mapping[str, str], key: bytes) -> str:
    return _hmac(key, canonical_json(dict(digests)))


def redactor(environ: Mapping[str, str]) -> Callable[[str], str]:
    """Replaces each environment value (of REDACT_MIN_LENGTH chars or more) in a text by ${NAME}.

    For free text that may quote a value: tracebacks, assertion messages, command lines.
    """
    values: dict[str, str] = {}
    for name, value in sorted(environ.items()):
        if (name not in VOLATILE or name == KEY_ENV) and len(value) >= REDACT_MIN_LENGTH:
            values.setdefault(value, name)
    if not values:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: "${" + values[m.group(0)] + "}", text)
