"""`mrw-bench features`: extract and cache per-frame CNN features (every method reuses them)."""

from __future__ import annotations

import argparse

from mrw.catalog import SPLITS, list_datasets
from mrw.core.cliargs import MAX_WORKERS, integer


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Dataset and feature flags shared by `features` and `run` (same names, same meaning)."""
    group = parser.add_argument_group("data and features")
    group.add_argument(
        "--dataset",
        default="toy",
        help=f"{', '.join(list_datasets())}, or a dataset folder (default: toy)",
    )
    group.add_argument(
        "--backbone",
        help="torchvision model per frame, histogram (regional colour histograms) or colour-edges "
        "(the toy set's colour, tint and edge features; both learning-free), or precomp "
        "(features imported with `mrw import precomp`), or clip:MODEL (an open_clip model's "
        "per-frame image embeddings; the clip extra) (default: the dataset's: resnet152; "
        "toy: colour-edges; toy-image: histogram)",
    )
    group.add_argument(
        "--weights",
        metavar="NAME",
        help="CNN weights, by torchvision's name: IMAGENET1K_V1 (the original ImageNet weights, "
        "as in the paper), IMAGENET1K_V2, DEFAULT (torchvision's current best: V2 for "
        "ResNet-152), or none (random init); for clip:MODEL an open_clip tag (e.g. "
        "laion2b_s34b_b79k) or hf-hub:ORG/REPO. Weights that cannot be loaded stop the command; "
        "the resolved name goes into the cache key and the run record (default: the "
        "dataset's: IMAGENET1K_V1; toy: none)",
    )
    group.add_argument(
        "--image-size", type=int, help="frame side in pixels (default: 224; toy: 64)"
    )
    group.add_argument(
        "--grid",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="keep the CNN's last convolutional map (7x7 cells at 224 px) as local features, "
        "PVSE's image side (default: on for image datasets: toy-image, coco, flickr30k)",
    )
    group.add_argument(
        "--standardize-features",
        action=argparse.BooleanOptionalAction,
        help="z-score cached frame features per dimension with training-split statistics "
        "before training and evaluation (default: the dataset's; on for the toy set only)",
    )
    group.add_argument(
        "--num-frames",
        type=int,
        help="frames per video (default: the dataset's, 8 for all built-in)",
    )
    group.add_argument(
        "--fps",
        type=float,
        help="sampling rate before picking frames (default: the dataset's, 8 for all built-in)",
    )
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    group.add_argument(
        "--workers",
        type=integer(0, MAX_WORKERS),
        default=0,
        help="decoding worker processes (default: 0)",
    )


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "features",
        help="extract and cache per-frame CNN features",
        description="Decode each split's videos and cache per-frame CNN features under $MRW_CACHE "
        "(default ~/.cache/mrw), keyed by dataset, split, backbone, weights, fps, frames and "
        "size. `run` extracts what it needs itself; this command prepares it ahead (e.g. "
        "on a GPU machine, or sharded: torchrun --nproc-per-node N -m mrw.bench.cli features).",
    )
    add_data_arguments(parser)
    parser.add_argument(
        "--splits", default=",".join(SPLITS), help="comma-separated (default: all three)"
    )
    parser.add_argument("--overwrite", action="store_true", help="recompute even when cached")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="abort on a video that does not decode (default: skip it with its pairs, counted)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from mrw.bench import distributed as dist_util
    from mrw.bench.features import extract_features
    from mrw.bench.options import RunOptions
    from mrw.bench.runner import resolve_device
    from mrw.core.cliutil import fail

    splits = [s.strip() for s in args.splits.split(",") if s.strip()]
    unknown = sorted(set(splits) - set(SPLITS))
    if unknown or not splits:
        fail(f"--splits takes {', '.join(SPLITS)}; got {args.splits!r}")
    options = RunOptions(
        dataset=args.dataset,
        backbone=args.backbone,
        weights=args.weights,
        image_size=args.image_size,
        grid=args.grid,
        num_frames=args.num_frames,
        fps=args.fps,
        device=args.device,
    ).resolved()
    device = dist_util.local_device(resolve_device(options.device))
    dist_util.init(device)
    for split in splits:
        features, used = extract_features(
            options.feature_spec(split),
            device,
            workers=args.workers,
            overwrite=args.overwrite,
            strict=args.strict,
        )
        if dist_util.is_main():
            print(
                f"{split}: {len(features.video_ids)} videos, {len(features.pair_ids)} pairs, "
                f"features {tuple(features.features.shape)} -> {used.cache_path()}"
                + (
                    f"; skipped {len(features.skipped)} videos that do not decode"
                    if features.skipped
                    else ""
                )
            )
    return 0
