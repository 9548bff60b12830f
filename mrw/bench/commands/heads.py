"""`mrw-bench heads RUN_DIR...`: attention entropy, head distance and embedding cosine of
trained PVSE runs, one JSON line per run (`mrw.bench.heads`)."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "heads",
        help="how a trained PVSE run's heads attend and embed",
        description="Attention entropy, head distance and embedding cosine of trained PVSE "
        "runs (one JSON line per run), measured on a split of the run's own cached features.",
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders of `mrw-bench run`")
    parser.add_argument(
        "--split", default="test", choices=("validation", "test"), help="(default: test)"
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mrw.bench.heads import head_report

    for run_dir in args.runs:
        print(json.dumps(head_report(run_dir, args.split)))
    return 0
