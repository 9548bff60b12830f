"""`mrw-leaderboard score`: metrics of a pair of run files against the ground truth."""

from __future__ import annotations

import argparse
import json
import sys

from leaderboard.commands.common import add_run_pair_arguments, print_metrics


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw-leaderboard score` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "score",
        help="score a t2v/v2t pair of TREC run files",
        description="Validate and score two TREC run files (plain or gzip) against the qrels in "
        "--truth: R@1, R@5, R@10, MedR, MeanR, nMR, mAP, nDCG@10 per direction and rsum; when "
        "--truth has a multi-positive/ folder (mrw qrels --multi-positive), the same metrics "
        "against it too, labelled; and the run pair's protocol card (the protocol.json beside "
        "the files, or --card; a card stating other truth than --truth is left out, with a "
        "warning). Any problem in a file stops with its line number and exit code 2.",
    )
    add_run_pair_arguments(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the metrics as one JSON document"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw-leaderboard score` with parsed `args`; return the process exit code."""
    from leaderboard.commands.common import line_progress, print_card, run_pair_card
    from leaderboard.score import score_pair
    from mrw.core.cliutil import cpu_threads

    card = run_pair_card(args)
    with line_progress("scoring") as progress:
        result = score_pair(
            args.truth,
            args.t2v_run,
            args.v2t_run,
            args.max_bytes,
            progress=progress,
            threads=cpu_threads(),
        )
    if card is not None:  # a card of another truth does not describe these metrics
        from leaderboard.board import check_card_truth, truth_fingerprint
        from leaderboard.errors import BoardError

        try:
            check_card_truth(card, truth_fingerprint(args.truth))
        except BoardError as exc:
            print(f"warning: {exc}; scored without it", file=sys.stderr)
            card = None
    if args.json:
        document = result.to_json()
        if card is not None:
            from mrw.core.protocol import card_document

            document = {**document, "protocol_card": card_document(card)}
        print(json.dumps(document))
    elif result.multi_positive is None:
        print_metrics(result.one_positive)
        print_card(card)
    else:
        print("one-positive (each query's paired item only):")
        print_metrics(result.one_positive)
        print_card(card)  # the card states one-positive relevance: it describes the table above
        print("multi-positive (relevance multi-positive: near-duplicates relevant too):")
        print_metrics(result.multi_positive)
    return 0
