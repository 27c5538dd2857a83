"""Where the project's interpreter is, by the one rule of the gates and of replay (standard
library only: the gates' prestart asks it before anything else is imported)."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

TYPE_CHECKING = False            # typing is not imported before the prestart (mypy reads it)
if TYPE_CHECKING:
    from testlog.config import Setting


def venv_python(venv: str) -> str:
    return os.path.join(venv, "Scripts", "python.exe") if os.name == "nt" \
        else os.path.join(venv, "bin", "python")


def in_hook_env(environ: Mapping[str, str]) -> bool:
    """True inside a virtualenv the pre-commit framework made for a `language: python` hook
    (named `py_env-*` in its cache): it lacks the project's dependencies."""
    return bool(environ.get("PRE_COMMIT")) and sys.prefix != sys.base_prefix \
        and os.path.basename(sys.prefix).startswith("py_env-")


def candidates(repo_root: str | None, configured: Setting | None,
               environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """(path, where it came from), in order: configuration, $VIRTUAL_ENV, the project's .venv,
    the interpreter running git-testlog (these two not from inside a hook's own virtualenv)."""
    environ = os.environ if environ is None else environ
    if configured is not None and configured.value:
        path = os.path.expanduser(str(configured.value))
        where = path if os.path.isabs(path) or repo_root is None else os.path.join(repo_root, path)
        return [(where, f"python in {configured.source}")]
    hook_env = in_hook_env(environ)
    found = []
    if environ.get("VIRTUAL_ENV") and not hook_env:
        found.append((venv_python(environ["VIRTUAL_ENV"]), "$VIRTUAL_ENV"))
    if repo_root is not None:
        found.append((venv_python(os.path.join(repo_root, ".venv")), ".venv"))
    if not hook_env:
        found.append((sys.executable, "the interpreter running git-testlog"))
    return found


def executable(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


def unconfigured_python(repo_root: str) -> str | None:
    """The interpreter the rule gives when nothing is configured (a guess made before the
    settings are read: the prestart checks it against the real answer later)."""
    return next((path for path, _ in candidates(repo_root, None) if executable(path)), None)
