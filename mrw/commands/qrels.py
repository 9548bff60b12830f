"""`mrw qrels DATASET --out DIR`: export the TREC ground truth the leaderboard scores against."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from mrw.catalog import SPLITS


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw qrels` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "qrels",
        help="export a dataset's TREC qrels (t2v.qrels, v2t.qrels) per split",
        description="Write OUT/SPLIT/t2v.qrels (sentence -> its video) and OUT/SPLIT/v2t.qrels "
        "(video -> its sentences) for each --split of DATASET: the --truth directory of "
        "`mrw-leaderboard score`.",
    )
    parser.add_argument("dataset", help="a dataset name (mrw, tgif, toy) or folder")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--split",
        action="append",
        choices=SPLITS,
        help="split to export (repeatable; default: test)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw qrels` with parsed `args`; return the process exit code."""
    from mrw.core.atomic import check_output_file
    from mrw.dataset import export_qrels

    splits = args.split or ["test"]
    for split in splits:  # all checked before anything is written
        for name in ("t2v.qrels", "v2t.qrels"):
            check_output_file(args.out / split / name, _is_written_qrels)
    for split in splits:
        paths = export_qrels(args.dataset, split, args.out / split)
        print(f"{split}: {paths['t2v']} {paths['v2t']}")
    return 0


_QRELS_LINE = re.compile(rb"[^\s]+ 0 [^\s]+ -?[0-9]+")


def _is_written_qrels(path: Path) -> bool:
    """Whether `path` holds qrels exactly as `mrw qrels` writes them (one space, "\\n" ends)."""
    try:
        data = path.read_bytes()
    except OSError:
        return False
    lines = data.split(b"\n")
    return bool(data) and lines[-1] == b"" and all(_QRELS_LINE.fullmatch(x) for x in lines[:-1])
