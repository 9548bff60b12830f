"""`mrw-leaderboard status`: a submission's score by its id, waiting for it as `submit` does."""

from __future__ import annotations

import argparse

from leaderboard.commands.submit import add_server_arguments
from leaderboard.server.client import TOKEN_ENV
from mrw.core.cliargs import integer


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard status` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "status",
        help="wait for a submitted run pair's score and print it (as submit does)",
        description="Show the team's submission ID on the server at --server (its number from "
        "`mrw-leaderboard submit`): wait until it is scored, then print the metrics as "
        "`submit` does. The token is read from --token-file or "
        f"${TOKEN_ENV} (never given on the command line). A failed submission exits 2 with "
        "the server's reason.",
        allow_abbrev=False,  # `--token SECRET` must not pass as an abbreviation of --token-file
    )
    add_server_arguments(parser)
    parser.add_argument("id", type=integer(minimum=1), metavar="ID", help="submission number")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard status` with parsed `args`; return the process exit code."""
    import contextlib

    from leaderboard.commands.submit import connect, wait_and_print

    with contextlib.closing(connect(args)) as client:
        return wait_and_print(client, args.id, args)
