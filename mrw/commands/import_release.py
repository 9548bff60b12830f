"""`mrw import {mrw-v1,tgif,coco,flickr30k,precomp}`: original releases as MRW-format dataset
folders (precomputed image features: into the feature cache)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "import",
        help="turn the original MRW v1.0, TGIF, MS-COCO or Flickr30K release into an MRW-format "
        "dataset folder",
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
    _register_image_text(releases)
    return parser


def _register_image_text(releases: argparse._SubParsersAction) -> None:
    """`mrw import coco|flickr30k` (Karpathy split files) and `mrw import precomp`."""
    for name, pretty, file in (
        ("coco", "MS-COCO", "dataset_coco.json"),
        ("flickr30k", "Flickr30K", "dataset_flickr30k.json"),
    ):
        sub = releases.add_parser(
            name,
            help=f"{pretty} from the Karpathy split file ({file}) and a local image folder",
            description=f"{pretty} with the Karpathy splits VSE++ and PVSE use (five captions "
            "per image, images in file order). Images are read from --images "
            "(DIR/{filepath}/{filename} or DIR/{filename}); "
            + (
                "without it the result is URL-only (images.cocodataset.org)."
                if name == "coco"
                else "Flickr30K images have no public URL, so --images is required."
            ),
        )
        sub.add_argument("--karpathy", type=Path, required=True, help=file)
        sub.add_argument(
            "--images",
            type=Path,
            required=name != "coco",
            help="folder of the images (e.g. holding train2014/ and val2014/)",
        )
        sub.add_argument(
            "--out",
            type=Path,
            help=f"dataset folder (default: where mrw.load_dataset('{name}') reads)",
        )
        sub.set_defaults(func=run_image_text, dataset=name)
    precomp = releases.add_parser(
        "precomp",
        help="precomputed image features ({split}_caps.txt + {split}_ims.npy) into the "
        "feature cache",
        description="The precomputed-feature layout of VSE++ / SCAN (train, dev, test or "
        "testall: {split}_caps.txt, five captions per image in order, and {split}_ims.npy, "
        "[N, D] or [N, R, D]) goes straight into the feature cache, so no images are needed: "
        "then `mrw-bench run METHOD --dataset NAME --backbone precomp`.",
    )
    precomp.add_argument("folder", type=Path, help="e.g. data/coco_precomp")
    precomp.add_argument("--name", required=True, help="dataset name, e.g. coco or flickr30k")
    precomp.set_defaults(func=run_precomp)


def run_image_text(args: argparse.Namespace) -> int:
    from mrw.catalog import prepared_dir
    from mrw.sources.image_text import read_karpathy
    from mrw.sources.releases import ReleaseError, format_import, import_release

    if args.images is not None and not args.images.is_dir():
        raise ReleaseError(f"images folder not found: {args.images}")
    out = args.out or prepared_dir(args.dataset)
    report = import_release(read_karpathy(args.karpathy, args.dataset), out, args.images)
    print(format_import(report).replace("videos", "images"))
    print(f"wrote {out}")
    return 0


def run_precomp(args: argparse.Namespace) -> int:
    from mrw.bench.precomp import import_precomp

    for split, path in import_precomp(args.folder, args.name).items():
        print(f"{split}: {path}")
    return 0


def run(args: argparse.Namespace) -> int:
    from mrw.catalog import prepared_dir
    from mrw.sources.releases import (
        ReleaseError,
        format_import,
        import_release,
        read_mrw_v1,
        read_tgif,
    )

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
