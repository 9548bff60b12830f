"""`mrw toy`: build the synthetic polysemous toy set (or, `--kind image`, the toy image-text
set), or print its retrieval ceiling."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrw.catalog import prepared_dir
from mrw.core.cliargs import integer
from mrw.core.cliutil import fail
from mrw.toy.video import ToyConfig, build_toy


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "toy",
        help="build the synthetic polysemous toy set (offline, seconds)",
        description="Build the synthetic polysemous video-text toy set in the MRW format. "
        "The same arguments always give byte-identical files.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: where load_dataset('toy') looks, {prepared_dir('toy')})",
    )
    parser.add_argument(
        "--num-pairs",
        type=integer(3),
        default=1500,
        help="pairs in all splits, at least 3: one per split (default 1500)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--size", type=integer(16, 512), default=64, help="frame side in pixels (default 64)"
    )
    parser.add_argument(
        "--kind",
        choices=("video", "image"),
        default="video",
        help="video: polysemous GIF clips (default); image: still images with 2-4 objects and "
        "five captions each, the image-text set `toy-image` (module mrw.toy.image)",
    )
    parser.add_argument(
        "--num-images",
        type=integer(3),
        default=450,
        help="--kind image: images in all splits, at least 3 (default 450)",
    )
    parser.add_argument(
        "--ceiling",
        action="store_true",
        help="print the validation and test splits' retrieval ceiling (a perfect perceiver "
        "guessing among the clips a sentence fits) and chance; builds nothing",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    if args.kind == "image":
        return _run_image(args)
    if args.ceiling:
        from mrw.toy.ceiling import bounds, format_bounds

        config = ToyConfig(args.num_pairs, args.seed, args.size)
        print("\n\n".join(format_bounds(bounds(config, split)) for split in ("validation", "test")))
        return 0
    out = args.out or prepared_dir("toy")
    build_toy(out, num_pairs=args.num_pairs, seed=args.seed, size=args.size, progress=True)
    sizes = ToyConfig(args.num_pairs, args.seed, args.size).split_sizes()
    print(f"toy set written to {out}: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
    return 0


def _run_image(args: argparse.Namespace) -> int:
    """`mrw toy --kind image`: build the set where `load_dataset("toy-image")` looks (or --out)."""
    from mrw.toy.image import CAPTIONS_PER_IMAGE, ToyImageConfig, build_toy_image

    if args.ceiling:
        fail("--ceiling applies to the video toy set only")
    out = args.out or prepared_dir("toy-image")
    build_toy_image(out, num_images=args.num_images, seed=args.seed, size=args.size, progress=True)
    sizes = ToyImageConfig(args.num_images, args.seed, args.size).split_sizes()
    print(
        f"toy image set written to {out}: "
        + ", ".join(f"{k} {v} images" for k, v in sizes.items())
        + f", {CAPTIONS_PER_IMAGE} captions each"
    )
    return 0
