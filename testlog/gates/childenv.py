"""The environment the project's pytest runs in (light: the gates' prestart needs it before
anything else is loaded)."""
from __future__ import annotations

import os

from gitstore import without_git_location


def base_env() -> dict[str, str]:
    """The caller's environment minus git's location variables, writing no __pycache__
    (PYTHONPYCACHEPREFIX would recompile the whole interpreter's imports into a cold cache)."""
    # A hook or wrapper may export git's location variables; the project's tests must see
    # their own repository.
    env = without_git_location(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def child_env(scratch: str) -> dict[str, str]:
    """base_env(), with the coverage data file in scratch space: nothing is left in the
    working tree."""
    return {**base_env(), "COVERAGE_FILE": os.path.join(scratch, ".coverage")}
