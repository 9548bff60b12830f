"""`mrw-leaderboard team`: add a team (its token is printed once), give it a new token, revoke
one, list them."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from leaderboard.server.db import Database


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """`--board FILE` (SQLite) or `--db URL` (any SQLAlchemy URL, e.g. PostgreSQL)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--board", type=Path, metavar="BOARD.db", help="SQLite database file")
    group.add_argument(
        "--db", metavar="URL", help="database URL, e.g. postgresql://user@host/leaderboard"
    )


@contextlib.contextmanager
def host_database(args: argparse.Namespace) -> Iterator[Database]:
    """The server database of `--board`/`--db` (`add_database_arguments`), migrated to the
    newest revision and closed on exit, for the host's commands (`team`, `phase`, `baseline`).

    Raises:
        LeaderboardError: the server extra is missing; BoardError: the database cannot be
            opened or migrated.
    """
    from leaderboard.server import SERVER_MODULES, require

    require(SERVER_MODULES)
    from leaderboard.server.db import Database, database_url

    db = Database(database_url(args.board, args.db))
    try:
        db.migrate()
        yield db
    finally:
        db.close()


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard team` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "team",
        help="add, rotate, revoke or list the teams of a leaderboard server",
        description="Manage the teams allowed to submit to `mrw-leaderboard serve`. `add` "
        "prints the team's token once: only a hash of it is stored, so keep it (a lost or "
        "leaked token: `rotate` prints a new one and the old one stops working).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    for name, text in (
        ("add", "create a team and print its token"),
        (
            "rotate",
            "print a new token for a team; its old token stops working (a revoked "
            "team becomes active again)",
        ),
        ("revoke", "revoke a team's token (its scored submissions stay on the board)"),
        ("list", "list the teams"),
    ):
        action = actions.add_parser(name, help=text, description=text)
        add_database_arguments(action)
        if name != "list":
            action.add_argument("name", metavar="NAME")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard team` with parsed `args`; return the process exit code."""
    import sys

    with host_database(args) as db:
        from leaderboard.server.teams import add_team, list_teams, revoke_team, rotate_token

        if args.action == "add":
            token = add_team(db, args.name)
            print(f"team {args.name!r} added; its token (shown only now):", file=sys.stderr)
            print(token)
        elif args.action == "rotate":
            token = rotate_token(db, args.name)
            print(f"team {args.name!r}: new token (shown only now; the old one no longer works):",
                  file=sys.stderr)  # fmt: skip
            print(token)
        elif args.action == "revoke":
            revoke_team(db, args.name)
            print(f"team {args.name!r} revoked")
        else:
            for name, created, active in list_teams(db):
                print(f"{name}\t{created}\t{'active' if active else 'revoked'}")
    return 0
