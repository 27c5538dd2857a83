"""The environment variables that point git at another repository or index (standard library
only: the gates' prestart asks for an environment without them before anything else loads)."""
from __future__ import annotations

from collections.abc import Mapping

# Inherited from a hook or a wrapper, these would point git at another repository or index.
GIT_LOCATION_VARS = (
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_PREFIX", "GIT_NAMESPACE",
)


def without_git_location(environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` less the variables that would point git at another repository or index."""
    return {k: v for k, v in environ.items() if k not in GIT_LOCATION_VARS}
