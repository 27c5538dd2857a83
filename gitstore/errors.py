"""The one error type of the storage layer."""


class GitStoreError(Exception):
    """A user-facing failure: the message says what went wrong and how to fix it."""
