"""`mrw-leaderboard validate`: check one run file without scoring it."""

from __future__ import annotations

import argparse

from leaderboard.commands.common import add_truth_argument


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard validate` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "validate",
        help="check a run file against the ground truth",
        description="Check that RUN is a well-formed TREC run file for the qrels in --truth "
        "(direction taken from --direction, else from the file name, else from its first "
        "query id). Prints a summary; a problem stops with its line number and exit code 2.",
    )
    add_truth_argument(parser)
    parser.add_argument("run", metavar="RUN", help="TREC run file (plain or gzip)")
    parser.add_argument("--direction", choices=("t2v", "v2t"), help="default: guessed")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard validate` with parsed `args`; return the process exit code."""
    from leaderboard.commands.common import line_progress
    from leaderboard.parse import parse_run
    from leaderboard.score import first_relevant_ranks, guess_direction, load_truth

    truth = load_truth(args.truth)
    direction = args.direction or guess_direction(args.run, truth)
    qrels = truth[direction]
    with line_progress("validating") as progress:
        parsed = parse_run(args.run, qrels, args.max_bytes, progress=progress)
    ranking = first_relevant_ranks(parsed, qrels)
    print(
        f"ok: {args.run} ({direction}): {len(parsed)} lines, "
        f"{ranking.ranks.size - ranking.missing_queries} of {ranking.ranks.size} queries "
        f"ranked ({ranking.missing_queries} missing), depth {ranking.depth} of a gallery of "
        f"{qrels.gallery_size}"
    )
    return 0
