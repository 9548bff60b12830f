"""`mrw build CLEAN_DIR --out DIR`: deterministic grouped splits -> dataset folder + qrels."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw build` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "build",
        help="split cleaned pairs; write the dataset folder (media + URL-only configs) and qrels",
        description=(
            "Assign the pairs kept by `mrw clean` to train/validation/test with a seeded, "
            "order-independent shuffle of near-duplicate groups (a group never straddles two "
            "splits), then write the HF dataset folder: config `default` with media bytes, "
            "config `urls` without (for redistribution), qrels/{split}/{t2v,v2t}.qrels and "
            "build.json. Sizes default to MRW's 44,107/1,000/5,000; with more pairs train "
            "takes the rest, with fewer every split shrinks in proportion."
        ),
    )
    parser.add_argument("clean_dir", type=Path, help="output folder of `mrw clean`")
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to write")
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the random split assignment (default %(default)s)",
    )
    parser.add_argument(
        "--sizes",
        default="44107,1000,5000",
        metavar="TRAIN,VAL,TEST",
        help="target split sizes, scaled as described above (default %(default)s)",
    )
    parser.add_argument("--urls-only", action="store_true", help="write only the URL-only config")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw build` with parsed `args`; return the process exit code."""
    from mrw.curate.build import build
    from mrw.curate.splits import SplitSizes

    configs = ("urls",) if args.urls_only else ("default", "urls")
    report = build(
        args.clean_dir,
        args.out,
        seed=args.seed,
        target=SplitSizes.parse(args.sizes),
        configs=configs,
    )
    target = SplitSizes.parse(args.sizes)
    if sum(report.rows.values()) < target.total:
        print(
            f"note: {sum(report.rows.values()):,} pairs are fewer than the "
            f"{target.total:,} of --sizes: split sizes scaled in proportion, at least one pair "
            "per split",
            file=sys.stderr,
        )
    sizes = ", ".join(f"{split} {n:,}" for split, n in report.rows.items())
    print(
        f"wrote {args.out}: {sizes} ({report.groups:,} near-duplicate groups, seed {report.seed})"
    )
    return 0
