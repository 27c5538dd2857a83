"""Environment variables as keyed digests (their values are taken out of text by redaction.py).

A plain SHA-256 of `USER=alice` is reversed by guessing, so each variable is an HMAC-SHA256
keyed by a per-repository secret (store.environment keeps it). Pure: the caller passes the
environment in.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from testlog.core.canonical import canonical_json

KEY_ENV = "TESTLOG_ENV_KEY"
# Set by pytest or xdist while a run is under way, or the key itself: not part of the environment.
VOLATILE = frozenset({"PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
                      "PYTEST_XDIST_TESTRUNUID", KEY_ENV})


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
