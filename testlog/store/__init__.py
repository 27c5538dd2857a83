"""The one bridge from the domain to the log branch: commits, runs, the writer, pending runs,
the environment key and the state folder under <git dir>/testlog."""
