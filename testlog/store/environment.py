"""The environment a run saw: platform facts in clear, environment variables only as keyed
digests (core.envdigest) under the repository's key: `<git common dir>/testlog/env-key`,
mode 0600, never committed. CI machines share digests by passing the same key in
TESTLOG_ENV_KEY.
"""
from __future__ import annotations

import os
import platform
import secrets
import sys
from collections.abc import Mapping
from importlib import metadata
from typing import Any

from gitstore import GIT_LOCATION_VARS

from testlog.core.envdigest import KEY_ENV, env_digests, key_id, overall_digest
from testlog.store.state import ENV_KEY, state_path

# What git sets for a subcommand or a hook it runs (`git testlog replay`, a hook that runs
# pytest), and the shell's `_` (the last command run), not the user: a run and its replay
# would differ by them for no reason of the tests'.
SET_BY_TOOLS = frozenset({*GIT_LOCATION_VARS, "GIT_EXEC_PATH", "GIT_REFLOG_ACTION",
                          "GIT_QUARANTINE_PATH", "GIT_PUSH_OPTION_COUNT", "_"})


def without_tool_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` less what git and the shell set themselves: their variables, and git's exec
    path, which git puts first on PATH for the commands it runs."""
    env = {k: v for k, v in environ.items()
           if k not in SET_BY_TOOLS and not k.startswith("GIT_PUSH_OPTION_")}
    exec_path = environ.get("GIT_EXEC_PATH")
    if exec_path and "PATH" in env:
        parts = env["PATH"].split(os.pathsep)
        while parts and parts[0] == exec_path:
            parts.pop(0)
        env["PATH"] = os.pathsep.join(parts)
    return env


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
    path = state_path(common_dir, ENV_KEY)
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
    digests = env_digests(without_tool_settings(environ), key)
    record_block = {**platform_facts(path), "env_digest": overall_digest(digests, key)}
    run_block = {**record_block, "os_release": platform.release(), "os_version": platform.version(),
                 "libc": libc(),
                 "env": digests, "env_key": {"source": key_source, "id": key_id(key)}}
    return record_block, run_block




def current_environment(environ: Mapping[str, str], common_dir: str | None) -> dict[str, Any]:
    """What a replay compares with the recorded environment: platform facts, and the
    variables' digests when this repository's key exists (never creating one)."""
    has_key = environ.get(KEY_ENV) or (common_dir and os.path.exists(state_path(common_dir, ENV_KEY)))
    if has_key:
        key, source = resolve_key(environ, common_dir)
        return environment_blocks(environ, key, source)[1]
    return {**platform_facts(), "os_release": platform.release()}
