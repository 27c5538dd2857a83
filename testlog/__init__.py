"""git-testlog: every pytest run recorded to a signed orphan git branch, replayable bit for bit."""

__version__ = "0.1.0"
