"""gitstore: a signed, append-only log branch inside a git repository, built on dulwich.

It never touches HEAD, the index, the working tree or any ref but its own branch.
It knows nothing of pytest or of what the files it stores mean.

The names below load on first use: `import gitstore.location` (or `gitstore.gitcmd`) must not
import dulwich, which the pytest process never needs when a writer process commits for it.
"""
from __future__ import annotations

import importlib
from typing import Any

from gitstore.errors import GitStoreError

_WHERE = {"Append": "gitstore.changes", "Existing": "gitstore.changes",
          "LogEntry": "gitstore.history", "LogStore": "gitstore.store",
          "DEFAULT_REF": "gitstore.store", "git_config_section": "gitstore.gitcmd",
          "SyncResult": "gitstore.sync", "fetch": "gitstore.sync", "push": "gitstore.sync"}

__all__ = ["GitStoreError", *_WHERE]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'gitstore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
