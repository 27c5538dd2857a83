"""The environment a run saw: platform facts in clear, environment variables only as keyed digests.

A plain SHA-256 of `USER=alice` is reversed by guessing, so each variable is an HMAC-SHA256
keyed by a per-repository secret (`<git common dir>/testlog/env-key`, mode 0600, never
committed). CI machines share digests by passing the same key in TESTLOG_ENV_KEY.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import platform
import re
import secrets
import sys
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

from testlog.core.canonical import canonical_json

KEY_ENV = "TESTLOG_ENV_KEY"
KEY_FILE = ("testlog", "env-key")
# Set by pytest or xdist while a run is under way, or the key itself: not part of the environment.
VOLATILE = frozenset({"PYTEST_CURRENT_TEST", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT",
                      "PYTEST_XDIST_TESTRUNUID", KEY_ENV})
REDACT_MIN_LENGTH = 6    # shorter values ("1", "true", "C") are everywhere in ordinary text


def _read_key(path: str) -> bytes | None:
    try:
        with open(path, "rb") as handle:
            text = handle.read().strip()
    except FileNotFoundError:
        return None
    return bytes.fromhex(text.decode()) if text else None


def _create_key(path: str) -> None:
    """Write a fresh key atomically: a private temp file hard-linked into place if still absent."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    temp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, secrets.token_hex(32).encode() + b"\n")
        os.close(fd)
        os.link(temp, path)
    except FileExistsError:
        pass                      # another process won the race: use its key
    finally:
        os.unlink(temp)


def repository_key(common_dir: str) -> bytes:
    """The repository's key, created on first use."""
    path = os.path.join(common_dir, *KEY_FILE)
    key = _read_key(path)
    if key is None:
        _create_key(path)
        key = _read_key(path)
    if not key:
        raise OSError(f"cannot read the environment key {path}")
    return key


def resolve_key(environ: Mapping[str, str], common_dir: str | None) -> tuple[bytes, str]:
    """(key, where it came from): TESTLOG_ENV_KEY, the repository's file, or a one-run key."""
    if environ.get(KEY_ENV):
        return environ[KEY_ENV].encode("utf-8", "surrogateescape"), "environment"
    if common_dir is not None:
        return repository_key(common_dir), "repository"
    return secrets.token_bytes(32), "ephemeral"


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


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def installed_version(distribution: str, path: list[str] | None = None) -> str | None:
    """The installed version, never importing the package: from the `<name>-<version>.dist-info`
    directory name on `path` (default sys.path; importlib.metadata takes ~20 ms a lookup), else
    from metadata."""
    prefix = distribution.replace("-", "_") + "-"
    for entry in sys.path if path is None else path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(".dist-info"):
                return name[len(prefix):-len(".dist-info")]
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def libc() -> str:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (AttributeError, ValueError, OSError):
        return ""


def platform_facts(path: list[str] | None = None) -> dict[str, Any]:
    """What replay compares first: results are bit-identical only on the same platform.
    `path`: the import path the tests ran with (default sys.path), for the library versions."""
    return {"os": platform.system(), "arch": platform.machine(),
            "python_version": platform.python_version(),
            "python_implementation": platform.python_implementation(), "cpu": cpu_model(),
            "numpy_version": installed_version("numpy", path),
            "torch_version": installed_version("torch", path)}


def environment_blocks(environ: Mapping[str, str], key: bytes, key_source: str,
                       path: list[str] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the block each record carries, the run's fuller block with every variable's digest);
    `path` as for platform_facts."""
    digests = env_digests(environ, key)
    record_block = {**platform_facts(path), "env_digest": overall_digest(digests, key)}
    run_block = {**record_block, "os_release": platform.release(), "os_version": platform.version(),
                 "libc": libc(),
                 "env": digests, "env_key": {"source": key_source, "id": key_id(key)}}
    return record_block, run_block


def redactor(environ: Mapping[str, str]) -> Callable[[str], str]:
    """Replaces each environment value (of REDACT_MIN_LENGTH chars or more) in a text by ${NAME}.

    For free text that may quote a value: tracebacks, assertion messages, command lines.
    """
    values = {}
    for name, value in sorted(environ.items()):
        if (name not in VOLATILE or name == KEY_ENV) and len(value) >= REDACT_MIN_LENGTH:
            values.setdefault(value, name)
    if not values:
        return lambda text: text
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)))
    return lambda text: pattern.sub(lambda m: "${" + values[m.group(0)] + "}", text)
