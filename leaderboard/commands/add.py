"""`mrw-leaderboard add`: score a submission and record it on the board."""

from __future__ import annotations

import argparse
from pathlib import Path

from leaderboard.commands.common import add_run_pair_arguments


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard add` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "add",
        help="score a submission and record it on a board",
        description="Score T2V_RUN and V2T_RUN against --truth and record the submission (name, "
        "team, date, metrics, SHA-256 of the files, and the protocol card: the protocol.json "
        "beside the files, or --card) in the SQLite board. Re-submitting identical files "
        "against the same ground truth is refused; a submission under another protocol card "
        "than the others of its dataset and split is recorded and ranked in a table of its "
        "own.",
    )
    parser.add_argument(
        "--board",
        type=Path,
        required=True,
        metavar="BOARD.db",
        help="SQLite board file (created on first use)",
    )
    parser.add_argument("--name", required=True, help="method name shown on the board")
    parser.add_argument("--team", required=True, help="team or author shown on the board")
    parser.add_argument(
        "--description", default="", metavar="TEXT", help="one line shown under the name"
    )
    parser.add_argument("--dataset", help="dataset label (default: from the --truth path)")
    parser.add_argument("--split", help="split label (default: the --truth directory name)")
    add_run_pair_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def truth_labels(truth: Path) -> tuple[str, str]:
    """(dataset, split) from a `DATASET/qrels/SPLIT` (or `DATASET/SPLIT`) truth path."""
    resolved = truth.resolve()
    parent = resolved.parent.parent if resolved.parent.name == "qrels" else resolved.parent
    return parent.name or "dataset", resolved.name


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard add` with parsed `args`; return the process exit code."""
    from leaderboard.board import submit
    from leaderboard.commands.common import line_progress, print_card, print_metrics, run_pair_card

    dataset, split = truth_labels(args.truth)
    card = run_pair_card(args)
    with line_progress("scoring") as progress:
        submission = submit(
            args.board,
            args.truth,
            args.t2v_run,
            args.v2t_run,
            name=args.name,
            team=args.team,
            description=args.description,
            dataset=args.dataset or dataset,
            split=args.split or split,
            max_bytes=args.max_bytes,
            progress=progress,
            protocol_card=card,
        )
    print_metrics(submission.metrics)
    print_card(submission.protocol_card)
    print(
        f"recorded #{submission.id} '{submission.name}' ({submission.team}) on "
        f"{submission.dataset}/{submission.split} in {args.board}"
    )
    return 0
