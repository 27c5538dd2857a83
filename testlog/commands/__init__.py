"""One module per `git testlog` subcommand: HELP, add_arguments(parser), run(args) -> int."""
