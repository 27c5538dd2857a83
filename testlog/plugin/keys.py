"""The keys the plugin's parts keep their objects under in `config.stash`: its own module, so
that the entry point, the recorder and the fixtures need not import each other."""
from __future__ import annotations

from typing import Any

import pytest

# The entry point registered the clean-up that prints the run's line (see plugin/__init__).
REPORT_AT_EXIT: pytest.StashKey[bool] = pytest.StashKey()
# This process's TestRunner: the fixtures find the running test's capture through it.
RUNNER_KEY: pytest.StashKey[Any] = pytest.StashKey()
