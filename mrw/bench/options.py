"""`RunOptions`: everything about a benchmark run except the method's own hyper-parameters,
with the dataset's defaults filled in from the catalogue and every value checked before any
work starts (bounds, finite numbers, a readable GloVe file)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrw.bench.record import RunRecordError
from mrw.catalog import dataset_record, training_defaults
from mrw.core.cliargs import integer, number

if TYPE_CHECKING:
    from mrw.bench.features import FeatureSpec
    from mrw.bench.postprocess import Postprocess


@dataclass
class RunOptions:
    """Everything about a run except the method's own hyper-parameters.

    `None` means "the default" (see `resolved`): the dataset's catalogue record for features,
    frames, epochs and batch size (`mrw.catalog.TrainingDefaults`; the toy set uses colour
    histograms at low resolution and few epochs, so that it trains on a laptop CPU), the
    method's own for the learning rate (`Method.default_lr`).
    """

    dataset: str = "toy"
    split: str = "test"  # the evaluated split; model selection always uses validation
    epochs: int | None = None
    batch_size: int | None = None
    lr: float | None = None
    lr_patience: int = 1
    # Early stopping: end training after this many epochs without a better validation rsum
    # (None: train every epoch). `mrw-bench tune` gives every method the same value.
    patience: int | None = None
    # The stored tuning this run's lr and tuned method fields came from (`mrw.bench.tuning`:
    # its file, grid, choice and validation curves), recorded in config.json; None: untuned.
    tuning: dict[str, Any] | None = None
    # "harness": halve the lr when validation rsum has not risen for `lr_patience` epochs;
    # "reference": yalesong/pvse's ReduceLROnPlateau left in mode "min" with patience 10,
    # i.e. halve it after 10 epochs in which rsum did not *fall* (see docs/methods.md).
    lr_schedule: str = "harness"
    # Score each evaluated video against one sentence only (its last in split order), as the
    # reference does on TGIF (one sentence per test GIF, 1:1 ranking); False: every sentence.
    one_sentence_per_video: bool = False
    grad_clip: float = 2.0
    seed: int = 0
    device: str = "auto"  # "auto" = CUDA when available, else CPU
    num_frames: int | None = None
    fps: float | None = None
    image_size: int | None = None
    grid: bool | None = None  # local features = the CNN's last map's cells (default: image sets)
    backbone: str | None = None
    weights: str | None = None  # torchvision weights name (IMAGENET1K_V1, DEFAULT, ...) or none
    standardize_features: bool | None = None  # z-score frames with train statistics (toy: on)
    feature_mix: int | None = None  # > 0: toy v4's mix into this many dims (0: off)
    glove: str | None = None  # path to glove.840B.300d.txt
    min_word_count: int = 1
    runs_dir: str = "runs"
    run_id: str | None = None  # default: time stamp + config hash
    run_depth: int | None = None  # None: the dataset's default (mrw.bench.runfiles); 0: full
    resume: str | None = None  # a run folder to continue, or "last"
    eval_batch_size: int = 256
    feature_workers: int = 0
    finetune_epochs: int = 0  # > 0: then unfreeze the CNN and train from decoded frames
    finetune_lr: float = 2e-5
    progress: bool = True
    # Alternative K x K reductions whose recalls the set-aware evaluation also reports
    # ("mean", "lse"); the metrics always rank by the method's own similarity (PVSE: max).
    kk_reductions: tuple[str, ...] = ()
    # Score post-processings reported beside the raw result (`mrw.bench.postprocess`: "dsl",
    # "qb-norm", "inverted-softmax", optionally "NAME:key=value,..."); never replace it.
    postprocess: tuple[str, ...] = ()
    qb_bank_size: int = 5000  # train pairs drawn for the QB-Norm / inverted-softmax bank

    def resolved(self, method: str | None = None) -> RunOptions:
        """A copy with every dataset default and, given the `method`, its learning rate
        filled in (what `config.json` records)."""
        from mrw.methods.registry import get_method_class

        defaults = training_defaults(self.dataset)
        filled = {
            name: getattr(defaults, name)
            for name in (
                "epochs",
                "batch_size",
                "num_frames",
                "fps",
                "image_size",
                "backbone",
                "standardize_features",
                "feature_mix",
            )
            if getattr(self, name) is None
        }
        from mrw.bench.backbones import resolve_weights

        backbone = filled.get("backbone", self.backbone)
        if "feature_mix" in filled and backbone != defaults.backbone:
            filled["feature_mix"] = 0  # the dataset's mix belongs to its own frame features
        # The concrete name (DEFAULT -> IMAGENET1K_V2): what config.json and the cache key hold.
        filled["weights"] = resolve_weights(backbone, self.weights or defaults.weights)
        if self.grid is None:  # image datasets: the CNN's grid cells are the local features
            record = dataset_record(self.dataset)
            filled["grid"] = record is not None and record.modality == "image"
        if self.lr is None and method is not None:
            filled["lr"] = get_method_class(method).default_lr
        resolved = dataclasses.replace(self, **filled)
        resolved.check()
        return resolved

    def check(self) -> None:
        """Refuse values no run can use, before any work (every entry point resolves first).

        Raises:
            RunRecordError: a count below its minimum or absurdly large, a rate that is not a
                finite positive number, a GloVe path that is not a readable text file, or a
                `runs_dir` that cannot hold run folders.
        """
        from mrw.bench.setaware import check_reductions
        from mrw.core.atomic import OutputPathError, check_output_path
        from mrw.core.errors import MRWError

        try:
            check_reductions(self.kk_reductions)
        except MRWError as exc:
            raise RunRecordError(f"--kk-reductions: {exc}") from None
        self.postprocessings()

        for name, low, high in _COUNT_BOUNDS:
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and low <= value <= high):
                flag = "--" + name.replace("_", "-")
                raise RunRecordError(f"{flag} must be a whole number in [{low}, {high:,}]")
        for name in _RATES:
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and 0 < value <= _RATE_MAX):
                flag = "--" + name.replace("_", "-")
                raise RunRecordError(
                    f"{flag} must be a finite number > 0 and <= {_RATE_MAX:g}, got {value}"
                )
        if self.glove is not None:
            _check_glove(Path(self.glove))
        try:
            check_output_path(self.runs_dir, folder=True)
        except OutputPathError as exc:
            raise RunRecordError(f"--runs-dir: {exc}") from None

    def postprocessings(self) -> list[Postprocess]:
        """The `mrw.bench.postprocess.Postprocess` of each `postprocess` entry, duplicates
        (same label) dropped.

        Raises:
            RunRecordError: an unknown post-processing or a bad parameter.
        """
        from mrw.bench.postprocess import PostprocessError, make_postprocess

        try:
            posts = [make_postprocess(spec, self.qb_bank_size) for spec in self.postprocess]
        except PostprocessError as exc:
            raise RunRecordError(f"--postprocess: {exc}") from None
        return list({post.label: post for post in posts}.values())

    def feature_spec(self, split: str) -> FeatureSpec:
        """The feature cache key of `split` under these (resolved) options."""
        from mrw.bench.features import FeatureSpec

        return FeatureSpec(
            self.dataset,
            split,
            self.backbone,
            self.weights,
            self.fps,
            self.num_frames,
            self.image_size,
            bool(self.grid),
        )


# (option, minimum, maximum) of the whole-number options.
_COUNT_BOUNDS = (
    ("epochs", 1, 100_000),
    ("batch_size", 1, 1 << 20),
    ("lr_patience", 0, 100_000),
    ("patience", 1, 100_000),
    ("feature_mix", 0, 1 << 20),
    ("num_frames", 1, 1024),
    ("image_size", 8, 4096),
    ("min_word_count", 1, 1 << 30),
    ("run_depth", 1, 1 << 40),
    ("eval_batch_size", 1, 1 << 20),
    ("feature_workers", 0, 256),
    ("finetune_epochs", 0, 100_000),
    ("seed", 0, 2**32 - 1),
    ("qb_bank_size", 1, 1 << 24),
)


# Options that are a positive rate or frequency, and their largest value.
_RATES = ("lr", "finetune_lr", "fps", "grad_clip")
_RATE_MAX = 1e6


def option_type(name: str) -> Callable[[str], Any]:
    """The argparse type of the flag of `RunOptions` field `name`: a whole number within
    `_COUNT_BOUNDS`, or a finite rate in (0, 1e6], the bounds `RunOptions.check` enforces,
    so a usage error states the range that is accepted (`--epochs 0`: between 1 and 100,000).

    Raises:
        KeyError: a field with no bounds.
    """
    for field, low, high in _COUNT_BOUNDS:
        if field == name:
            return integer(low, high)
    if name in _RATES:
        return number(0.0, _RATE_MAX, above_minimum=True)
    raise KeyError(name)


def _check_glove(path: Path) -> None:
    """A GloVe file must be a non-empty text file whose first line is `word v1 v2 ...`."""
    try:
        with path.open("rb") as handle:
            first = handle.readline(1 << 20)
    except OSError as exc:
        raise RunRecordError(f"--glove {path}: cannot read ({exc.strerror or exc})") from None
    try:
        fields = first.decode("utf-8").split()
        [float(value) for value in fields[1:]]
    except (UnicodeDecodeError, ValueError):
        fields = []
    if len(fields) < 2:
        raise RunRecordError(f"--glove {path}: not a GloVe text file (`word v1 v2 ...` lines)")
