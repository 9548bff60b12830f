"""`mrw-leaderboard select`: a team chooses which test-phase submissions the private ranking
counts (at most the test phase's limit; none chosen: its best public one)."""

from __future__ import annotations

import argparse

from leaderboard.commands.submit import add_server_arguments
from leaderboard.server.client import TOKEN_ENV
from mrw.core.cliargs import integer


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard select` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "select",
        help="choose the test-phase submissions ranked on the private part at the reveal",
        description="Make ID... the team's whole selection for the private ranking (the "
        "server's test phase says how many may be chosen, 2 by default); with no ID, print "
        "the selection; --clear empties it (the best public submission is then used at the "
        f"reveal). The token is read from --token-file or ${TOKEN_ENV}.",
        allow_abbrev=False,  # `--token SECRET` must not pass as an abbreviation of --token-file
    )
    add_server_arguments(parser)
    parser.add_argument("--clear", action="store_true", help="select nothing")
    parser.add_argument(
        "ids", type=integer(minimum=1), nargs="*", metavar="ID", help="submission numbers"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard select` with parsed `args`; return the process exit code."""
    import contextlib
    import json

    from leaderboard.commands.submit import connect
    from leaderboard.errors import LeaderboardError
    from leaderboard.server.client import server_text

    if args.clear and args.ids:
        raise LeaderboardError("give IDs or --clear, not both")
    with contextlib.closing(connect(args)) as client:
        document = client.selection([] if args.clear else (args.ids or None))
    if args.json:
        print(json.dumps(document))
        return 0
    chosen = " ".join(f"#{server_text(i, 20)}" for i in document["selected"]) or "none"
    limit = server_text(document.get("max_selected"), 20)
    final = " (final: the test phase was revealed)" if document.get("revealed") else ""
    print(f"selected: {chosen} (at most {limit}){final}")
    return 0
