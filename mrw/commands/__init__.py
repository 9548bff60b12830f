"""One module per `mrw` sub-command, each exposing `register(subparsers)` (`mrw.core.cliutil`)."""
