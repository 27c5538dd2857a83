"""The error types of the storage layer."""


class GitStoreError(Exception):
    """A user-facing failure: the message says what went wrong and how to fix it."""


class GitStoreInputError(GitStoreError):
    """The caller asked for something that is not there or not valid: not a repository, an
    unknown revision, an invalid branch name. Nothing was attempted."""
