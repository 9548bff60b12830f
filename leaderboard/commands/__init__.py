"""`mrw-leaderboard` sub-commands, one module each (see `mrw.core.cliutil.build_parser`)."""
