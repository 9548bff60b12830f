"""One module per `mrw` sub-command, each exposing `register(subparsers)` (see `mrw.cliutil`)."""
