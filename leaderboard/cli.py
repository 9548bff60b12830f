"""`mrw-leaderboard`: validate and score ranking files, record submissions, render the board."""

from __future__ import annotations

from collections.abc import Sequence

from mrw.core.cliutil import build_parser, dispatch

# sub-command -> module defining `register(subparsers)`.
COMMANDS: dict[str, str] = {
    "score": "leaderboard.commands.score",
    "validate": "leaderboard.commands.validate",
    "add": "leaderboard.commands.add",
    "render": "leaderboard.commands.render",
    "serve": "leaderboard.commands.serve",
    "team": "leaderboard.commands.team",
    "submit": "leaderboard.commands.submit",
    "status": "leaderboard.commands.status",
    "baseline": "leaderboard.commands.baseline",
    "phase": "leaderboard.commands.phase",
    "select": "leaderboard.commands.select",
}


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `mrw-leaderboard` (`argv`: default `sys.argv[1:]`); returns the exit code."""
    parser = build_parser(
        "mrw-leaderboard",
        "Validate and score TREC ranking files against qrels; keep and render a leaderboard.",
        COMMANDS,
    )
    return dispatch(parser, argv)


if __name__ == "__main__":
    raise SystemExit(main())
