"""Settings in layers: defaults → setup.cfg/pyproject → git config → environment → command line.

Each value remembers where it came from, so errors and `--help` can say so.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gitstore import DEFAULT_SIGN_TIMEOUT, GitStoreError, git_config_section, locate

from testlog.core.truth import truth
from testlog.errors import UsageError

DEFAULTS: dict[str, Any] = {
    "branch": "refs/heads/testlog",
    "sign_key": None,
    "python": None,
    "rotate_days": 30,
    "retain_days": 90,
    "trusted_keys": None,
    "archive_dir": None,
    "suite": None,
    "writer_process": "auto",   # a child process builds and commits the run (writerproc)
    "writer": None,             # this writer's id: its chain is refs/testlog/chains/<writer>
    "sign_timeout": DEFAULT_SIGN_TIMEOUT,   # seconds a gpg or ssh-keygen call may take, then killed
    "prestart": True,           # the gates start the project's interpreter at once (gates/prestart)
}


@dataclass(frozen=True)
class Setting:
    value: Any
    source: str


def _from_setup_cfg(root: str) -> dict[str, str]:
    path = os.path.join(root, "setup.cfg")
    if not os.path.exists(path):      # configparser and tomllib load only for a file to read
        return {}
    import configparser
    parser = configparser.ConfigParser(interpolation=None)   # a '%' in a path is just a '%'
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error as exc:
        reason = str(exc).splitlines()[0]
        raise UsageError(f"cannot read {path}: {reason} (fix the file)") from None
    return dict(parser["testlog"]) if parser.has_section("testlog") else {}


def _from_pyproject(root: str) -> dict[str, Any]:
    path = os.path.join(root, "pyproject.toml")
    if not os.path.exists(path):
        return {}
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]  # 3.11+
    except ImportError:      # Python 3.10: pyproject settings need 3.11's tomllib
        return {}
    with open(path, "rb") as handle:
        try:
            data = tomllib.load(handle)
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"cannot read {path}: {exc} (fix the file)") from None
    return data.get("tool", {}).get("testlog", {})


def _from_git(root: str) -> dict[str, str]:
    try:
        raw = git_config_section(root, "testlog")
    except GitStoreError:
        return {}
    return {k.replace("-", "_").lower(): v for k, v in raw.items()}


def _from_env() -> dict[str, str]:
    prefix = "TESTLOG_"
    return {k[len(prefix):].lower(): v for k, v in os.environ.items()
            if k.startswith(prefix) and k[len(prefix):].lower() in DEFAULTS}


def load_settings(root: str, cli: dict[str, Any] | None = None) -> dict[str, Setting]:
    """Every known key with its value and the layer it came from."""
    layers = [("setup.cfg [testlog]", _from_setup_cfg(root)),
              ("pyproject.toml [tool.testlog]", _from_pyproject(root)),
              ("git config testlog.*", _from_git(root)),
              ("environment TESTLOG_*", _from_env()),
              ("command line", {k: v for k, v in (cli or {}).items() if v is not None})]
    settings = {k: Setting(v, "default") for k, v in DEFAULTS.items()}
    for source, values in layers:
        for key, value in values.items():
            key = key.replace("-", "_")
            if key in DEFAULTS:
                settings[key] = Setting(value, source)
    return settings


def sign_timeout(setting: Setting) -> float:
    """The `sign_timeout` setting in seconds: a positive number, else a one-line error."""
    try:
        seconds = float(str(setting.value).strip())
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < float("inf"):
        raise UsageError(f"sign_timeout must be a positive number of seconds, not "
                         f"{setting.value!r} (from {setting.source})")
    return seconds


def flag(setting: Setting, name: str) -> bool:
    """A true/false setting (a TOML boolean, or true/yes/on/1, false/no/off/0), else a
    one-line error naming where it came from."""
    if isinstance(setting.value, bool):
        return setting.value
    value = truth(str(setting.value))
    if value is not None:
        return value
    raise UsageError(f"{name} must be true or false, not {setting.value!r} "
                     f"(from {setting.source})")


def repo_settings(repo: str, cli: dict[str, Any]) -> tuple[dict[str, Setting], str, str]:
    """(settings, repository root for config files, common git dir) for a path in a repo."""
    common, _, top = locate(repo)
    root = top or common
    return load_settings(root, cli), root, common
