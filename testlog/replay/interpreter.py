"""Which Python runs the replayed tests: the project's, not necessarily ours."""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from testlog.errors import TestlogError


def venv_python(venv: str) -> str | None:
    for relative in (("bin", "python"), ("Scripts", "python.exe")):
        path = os.path.join(venv, *relative)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def project_python(explicit: str | None, configured: str | None, environ: Mapping[str, str],
                   project_root: str | None) -> str:
    """--python, else the `python` setting, else $VIRTUAL_ENV, else <project>/.venv, else ours."""
    for given, what in ((explicit, "--python"), (configured, "the testlog `python` setting")):
        if given:
            if not (os.path.isfile(given) and os.access(given, os.X_OK)):
                raise TestlogError(f"{what} {given}: no such executable (give the project's "
                                   "Python, e.g. .venv/bin/python)")
            return os.path.abspath(given)
    for venv in (environ.get("VIRTUAL_ENV"), os.path.join(project_root, ".venv") if project_root else None):
        found = venv_python(venv) if venv else None
        if found:
            return found
    return sys.executable
