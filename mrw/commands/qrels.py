"""`mrw qrels DATASET --out DIR`: export the TREC ground truth the leaderboard scores against."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from mrw.catalog import SPLITS


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw qrels` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "qrels",
        help="export a dataset's TREC qrels (t2v.qrels, v2t.qrels) per split",
        description="Write OUT/SPLIT/t2v.qrels (sentence -> its video) and OUT/SPLIT/v2t.qrels "
        "(video -> its sentences) for each --split of DATASET: the --truth directory of "
        "`mrw-leaderboard score`. With --multi-positive, also OUT/SPLIT/multi-positive/, where "
        "a clip's near-duplicates (the groups `mrw build` recorded) are relevant to its title "
        "and their titles to it; the scorer then reports both. Every judgement has grade 1.",
    )
    parser.add_argument("dataset", help="a dataset name (mrw, tgif, toy) or folder")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    parser.add_argument(
        "--split",
        action="append",
        choices=SPLITS,
        help="split to export (repeatable; default: test)",
    )
    parser.add_argument(
        "--multi-positive",
        action="store_true",
        help="also write multi-positive qrels (near-duplicates relevant) in SPLIT/multi-positive/",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run `mrw qrels` with parsed `args`; return the process exit code."""
    from mrw.core.atomic import OutputPathError, check_output_file
    from mrw.dataset import export_qrels
    from mrw.dataset.qrels import MULTI_POSITIVE_DIR, group_problems, recorded_groups

    splits = args.split or ["test"]
    folders = [Path(), Path(MULTI_POSITIVE_DIR)] if args.multi_positive else [Path()]
    for split in splits:  # all checked before anything is written
        for folder in folders:
            below = args.out / split / folder
            if below.is_symlink() or (args.out / split).is_symlink():  # writes would land elsewhere
                raise OutputPathError(
                    f"{below if below.is_symlink() else args.out / split}: a symlink; mrw qrels "
                    "writes only into real folders under --out"
                )
            for name in ("t2v.qrels", "v2t.qrels"):
                check_output_file(args.out / split / folder / name, _is_written_qrels)
    groups = recorded_groups(args.dataset) if args.multi_positive else None
    if groups is not None:
        for problem in group_problems(args.dataset, groups):
            print(f"warning: {args.dataset}: {problem}", file=sys.stderr)
    if not args.multi_positive:  # an earlier multi-positive export would no longer match
        for split in splits:
            stale = args.out / split / MULTI_POSITIVE_DIR
            files = [stale / "t2v.qrels", stale / "v2t.qrels"]
            if stale.is_dir() and not stale.is_symlink() and all(map(_is_written_qrels, files)):
                for path in files:
                    path.unlink()
                if not any(stale.iterdir()):
                    stale.rmdir()
                print(f"{split}: removed the earlier multi-positive qrels in {stale}")
    for split in splits:
        paths = export_qrels(args.dataset, split, args.out / split)
        print(f"{split}: {paths['t2v']} {paths['v2t']}")
        if groups is not None:
            out = args.out / split / MULTI_POSITIVE_DIR
            paths = export_qrels(args.dataset, split, out, multi_positive=True, groups=groups)
            print(f"{split} (multi-positive): {paths['t2v']} {paths['v2t']}")
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
