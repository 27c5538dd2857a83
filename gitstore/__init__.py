"""gitstore: a signed, append-only log branch inside a git repository, built on dulwich.

It never touches HEAD, the index, the working tree or any ref but its own branch.
It knows nothing of pytest or of what the files it stores mean.
"""
from gitstore.changes import Append, Existing
from gitstore.errors import GitStoreError
from gitstore.history import LogEntry
from gitstore.store import DEFAULT_REF, LogStore

__all__ = ["Append", "Existing", "GitStoreError", "LogEntry", "LogStore", "DEFAULT_REF"]
from gitstore.gitcmd import git_config_section  # noqa: E402  (config in layers reads git's)

__all__ += ["git_config_section"]
from gitstore.sync import SyncResult, fetch, push  # noqa: E402

__all__ += ["SyncResult", "fetch", "push"]
