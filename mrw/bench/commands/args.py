"""Flags several `mrw-bench` commands share, defined once; their defaults are read from the
dataset catalogue (`mrw.catalog`), never copied into the help text."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mrw.bench.options import RunOptions

from mrw.bench.experiments import MAX_SEEDS
from mrw.bench.options import option_type
from mrw.catalog import DEFAULTS, get_dataset, list_datasets
from mrw.core.cliargs import MAX_WORKERS, integer, nonempty


def catalogue_default(field: str) -> str:
    """How `TrainingDefaults.<field>` reads in help text: the value for any dataset folder
    (`mrw.catalog.DEFAULTS`), then the catalogued datasets whose value differs.

    >>> catalogue_default("epochs")  # doctest: +ELLIPSIS
    "the dataset's: 30; ...toy...: 12..."
    """
    base = getattr(DEFAULTS, field)
    others: dict[Any, list[str]] = {}
    for name in list_datasets():
        value = getattr(get_dataset(name).training, field)
        if value != base:
            others.setdefault(value, []).append(name)
    shown = [str(base)] + [f"{', '.join(names)}: {value}" for value, names in others.items()]
    return "the dataset's: " + "; ".join(shown)


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """Dataset and feature flags of `features`, `run`, `tune` and `sweep` (same names, same
    meaning; defaults read from the catalogue)."""
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
        f"per-frame image embeddings; the clip extra) (default: {catalogue_default('backbone')})",
    )
    group.add_argument(
        "--weights",
        metavar="NAME",
        help="CNN weights, by torchvision's name: IMAGENET1K_V1 (the original ImageNet weights, "
        "as in the paper), IMAGENET1K_V2, DEFAULT (torchvision's current best: V2 for "
        "ResNet-152), or none (random init); for clip:MODEL an open_clip tag (e.g. "
        "laion2b_s34b_b79k) or hf-hub:ORG/REPO. Weights that cannot be loaded stop the command; "
        "the resolved name goes into the cache key and the run record (default: "
        f"{catalogue_default('weights')})",
    )
    group.add_argument(
        "--image-size",
        type=option_type("image_size"),
        help=f"frame side in pixels (default: {catalogue_default('image_size')})",
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
        f"before training and evaluation (default: {catalogue_default('standardize_features')})",
    )
    group.add_argument(
        "--num-frames",
        type=option_type("num_frames"),
        help=f"frames per video (default: {catalogue_default('num_frames')})",
    )
    group.add_argument(
        "--fps",
        type=option_type("fps"),
        help=f"sampling rate before picking frames (default: {catalogue_default('fps')})",
    )
    group.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)")
    group.add_argument(
        "--workers",
        type=integer(0, MAX_WORKERS),
        default=0,
        help="decoding worker processes (default: 0)",
    )


def add_training_arguments(
    parser: argparse.ArgumentParser, *, seeds: bool = True
) -> argparse._ArgumentGroup:
    """The training flags of `run` and `sweep`; `seeds` adds `--seeds` (runs per setting).
    Returns the group, for a command's own training flags."""
    group = parser.add_argument_group("training")
    group.add_argument(
        "--epochs",
        type=option_type("epochs"),
        help=f"training epochs (default: {catalogue_default('epochs')})",
    )
    group.add_argument(
        "--batch-size",
        type=option_type("batch_size"),
        help=f"training pairs per batch (default: {catalogue_default('batch_size')})",
    )
    group.add_argument(
        "--lr",
        type=option_type("lr"),
        help="AMSGrad learning rate, halved on a validation plateau (default: the method's own, "
        "as `mrw-bench list` shows it)",
    )
    group.add_argument(
        "--seed",
        type=option_type("seed"),
        default=0,
        help="(first) seed of initial weights, batch order and GloVe fallbacks (default: 0)",
    )
    if seeds:
        group.add_argument(
            "--seeds",
            type=integer(1, MAX_SEEDS),
            default=1,
            help="number of seeds per configuration (default: 1)",
        )
    group.add_argument(
        "--glove",
        type=nonempty,
        metavar="PATH",
        help="glove.840B.300d.txt (default: random word vectors)",
    )
    group.add_argument(
        "--runs-dir", type=nonempty, default="runs", help="root of run records (default: ./runs)"
    )
    return group


def options_from_args(args: argparse.Namespace, **fixed: Any) -> RunOptions:
    """RunOptions from the data (`add_data_arguments`) and training flags; `fixed` wins."""
    from mrw.bench.options import RunOptions

    values = {
        "dataset": args.dataset,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "device": args.device,
        "num_frames": args.num_frames,
        "fps": args.fps,
        "image_size": args.image_size,
        "grid": args.grid,
        "backbone": args.backbone,
        "weights": args.weights,
        "standardize_features": args.standardize_features,
        "glove": args.glove,
        "runs_dir": args.runs_dir,
        "feature_workers": args.workers,
    }
    values.update(fixed)
    return RunOptions(**values)
