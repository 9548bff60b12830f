"""`mrw import {mrw-v1,tgif}`: the original releases as MRW-format dataset folders."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import",
        help="turn the original MRW v1.0 or TGIF release into an MRW-format dataset folder",
        description=(
            "Import an original release into the MRW dataset format. Without --videos the "
            "result is the URL-only config (`mrw download` re-hydrates it); with --videos, "
            "pairs whose video file ({id}.mp4 / {video_id}.gif) is there also get the config "
            "with media bytes (the others are counted as skipped). Qrels are written per split."
        ),
    )
    releases = parser.add_subparsers(dest="release", metavar="RELEASE", required=True)
    mrw = releases.add_parser(
        "mrw-v1",
        help="MRW v1.0 (mrw-v1.0.json + split/{train,valid,test}.tsv)",
        description="MRW v1.0 as published with PVSE: a JSON list of {id, sentence, images: "
        "{mp4_url}} and split files listing one id per line.",
    )
    mrw.add_argument("--json", type=Path, required=True, help="mrw-v1.0.json")
    tgif = releases.add_parser(
        "tgif",
        help="TGIF (tgif-v1.0.tsv + splits/{train,val,test}.txt)",
        description="TGIF as published in raingo/TGIF-Release: URL<TAB>sentence lines (three "
        "sentences per test GIF, kept and grouped by video_id) and split files listing GIF "
        "URLs. Without train.txt, every TSV GIF outside validation and test is train.",
    )
    tgif.add_argument("--tsv", type=Path, required=True, help="tgif-v1.0.tsv (URL<TAB>sentence)")
    for sub in (mrw, tgif):
        sub.add_argument("--splits", type=Path, required=True, help="folder of split files")
        sub.add_argument("--videos", type=Path, help="folder of the release's video files")
        sub.add_argument(
            "--out",
            type=Path,
            help="dataset folder (default: the prepared copy that "
            "mrw.load_dataset('mrw'|'tgif') reads)",
        )
        sub.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mrw.catalog import prepared_dir
    from mrw.releases import ReleaseError, format_import, import_release, read_mrw_v1, read_tgif

    if args.videos is not None and not args.videos.is_dir():
        raise ReleaseError(f"videos folder not found: {args.videos}")
    if args.release == "tgif":
        release, name = read_tgif(args.tsv, args.splits), "tgif"
    else:
        release, name = read_mrw_v1(args.json, args.splits), "mrw"
    out = args.out or prepared_dir(name)
    report = import_release(release, out, args.videos)
    print(format_import(report))
    print(f"wrote {out}")
    return 0
