"""`mrw-leaderboard render`: the board as Markdown, JSON and a static HTML page."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard render` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "render",
        help="write leaderboard.md, leaderboard.json and index.html",
        description="Render every submission of the board into --out: leaderboard.md, "
        "leaderboard.json and a self-contained index.html (sortable by any column, best "
        "value per column highlighted, no network assets).",
    )
    parser.add_argument(
        "--board", type=Path, required=True, metavar="BOARD.db", help="SQLite board file"
    )
    parser.add_argument(
        "--out", type=Path, required=True, metavar="DIR", help="folder for the three files"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard render` with parsed `args`; return the process exit code."""
    from leaderboard.render import render

    for path in render(args.board, args.out).values():
        print(path)
    return 0
