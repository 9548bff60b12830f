"""`mrw-bench headroom`: the command's arguments and handler; the work is `mrw.bench.headroom`."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "headroom",
        help="rsum of a mean-pooled and a per-frame max reader vs the ceiling (no training)",
        description="Fit two ridge readers of the cached frame features on train (penalty "
        "chosen on validation) and report their test rsum beside the set's ceiling: the mean "
        "reader reads the mean-pooled clip feature, the max reader each frame and keeps the "
        "best. K > 1 embeddings can only pay where the max reader beats the mean reader. "
        "Needs a dataset with moment labels (every toy set).",
    )
    parser.add_argument("--dataset", default="toy", help="a catalogued dataset (default: toy)")
    parser.add_argument("--json", action="store_true", help="print a JSON document instead")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mrw.bench.headroom import format_headroom, measure

    result = measure(args.dataset, progress=not args.json and sys.stderr.isatty())
    if args.json:
        print(json.dumps(result.to_json(), indent=2))
    else:
        print(format_headroom(result))
    return 0
