"""`python -m testlog ...`: the same as `git testlog ...` (useful where git's subcommand lookup
does not find the console script)."""
from testlog.start import entry

if __name__ == "__main__":
    entry()
