"""The domain's error types; `cli.main` turns each into one line and its exit status: 1 when a
check or an operation failed, 2 when the command itself was wrong (argparse's convention)."""


class TestlogError(Exception):
    """A user-facing failure: the message names the thing and the fix."""

    __test__ = False  # not a pytest test class, despite the name
    exit_status = 1


class UsageError(TestlogError):
    """The command line is wrong: an unknown option, a missing or malformed argument."""

    exit_status = 2
