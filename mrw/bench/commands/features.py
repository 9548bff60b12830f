"""`mrw-bench features`: extract and cache per-frame CNN features (every method reuses them)."""

from __future__ import annotations

import argparse

from mrw.bench.commands.args import add_data_arguments
from mrw.catalog import SPLITS


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
