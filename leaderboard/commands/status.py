"""`mrw-leaderboard status`: a submission's score by its id, waiting for it as `submit` does;
`--detail` prints its per-query results (dev phase only)."""

from __future__ import annotations

import argparse
import json

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
    parser.add_argument(
        "--detail",
        action="store_true",
        help="then print the per-query results (query, rank of its first relevant document); "
        "given for dev-phase submissions only (--json: the server's document)",
    )
    parser.add_argument("id", type=integer(minimum=1), metavar="ID", help="submission number")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard status` with parsed `args`; return the process exit code."""
    import contextlib

    from leaderboard.commands.submit import connect, wait_and_print

    with contextlib.closing(connect(args)) as client:
        if not args.detail:
            return wait_and_print(client, args.id, args)
        client.wait(args.id)
        detail = client.detail(args.id)
    if args.json:
        print(json.dumps(detail))
    else:
        print_detail(detail)
    return 0


def print_detail(detail: dict) -> None:
    """The per-query table of a `GET /api/submissions/{id}/detail` document: direction, query
    id, rank of its first relevant document (`-` when not in the run); server text is shown
    only through `server_text`."""
    from rich.table import Table

    from leaderboard.server.client import server_text
    from mrw.core.cliutil import stdout_console

    table = Table("direction", "query", "first relevant rank")
    for direction, document in detail["details"].items():
        ranks = document.get("first_relevant_rank") if isinstance(document, dict) else None
        for query, rank in (ranks or {}).items():
            shown = "-" if rank is None else server_text(rank, 20)
            table.add_row(server_text(direction, 10), server_text(query, 200), shown)
    stdout_console().print(table)
