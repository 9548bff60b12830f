"""`mrw-leaderboard` sub-commands, one module each (see `mrw.cliutil.build_parser`)."""
