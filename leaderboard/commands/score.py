"""`mrw-leaderboard score`: metrics of a pair of run files against the ground truth."""

from __future__ import annotations

import argparse
import json

from leaderboard.commands.common import add_run_pair_arguments, print_metrics


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard score` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "score",
        help="score a t2v/v2t pair of TREC run files",
        description="Validate and score two TREC run files (plain or gzip) against the qrels in "
        "--truth: R@1, R@5, R@10, MedR, MeanR, nMR, mAP, nDCG@10 per direction and rsum; when "
        "--truth has a multi-positive/ folder (mrw qrels --multi-positive), the same metrics "
        "against it too, labelled. Any problem in a file stops with its line number and exit "
        "code 2.",
    )
    add_run_pair_arguments(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the metrics as one JSON document"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard score` with parsed `args`; return the process exit code."""
    from leaderboard.commands.common import line_progress
    from leaderboard.score import score_pair
    from mrw.core.cliutil import cpu_threads

    with line_progress("scoring") as progress:
        result = score_pair(
            args.truth,
            args.t2v_run,
            args.v2t_run,
            args.max_bytes,
            progress=progress,
            threads=cpu_threads(),
        )
    if args.json:
        print(json.dumps(result.to_json()))
    elif result.multi_positive is None:
        print_metrics(result.one_positive)
    else:
        print("one-positive (each query's paired item only):")
        print_metrics(result.one_positive)
        print("multi-positive (near-duplicates relevant too):")
        print_metrics(result.multi_positive)
    return 0
