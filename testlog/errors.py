"""The one error type of the domain package; `cli.main` turns it into one line and exit 1."""


class TestlogError(Exception):
    """A user-facing failure: the message names the thing and the fix."""

    __test__ = False  # not a pytest test class, despite the name
