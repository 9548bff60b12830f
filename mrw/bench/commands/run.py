"""`mrw-bench run METHOD... --dataset NAME`: features -> train -> evaluate -> run record."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from mrw.bench.commands.args import add_data_arguments, add_training_arguments
from mrw.bench.options import option_type
from mrw.core.cliargs import nonempty
from mrw.core.cliutil import stdout_console

# Method flags -> config fields; a flag applies to every chosen method whose config has the field.
METHOD_FLAGS: dict[str, tuple[type, str]] = {
    "k": (int, "embeddings per instance; 0 = global feature only (PVSE)"),
    "no_global": (bool, "drop the global feature from PIE-Net (PVSE ablation)"),
    "no_residual": (bool, "concatenate instead of residual fusion (PVSE ablation)"),
    "no_mil": (bool, "concatenate the K embeddings, plain triplet loss (PVSE ablation)"),
    "div_weight": (float, "weight of the diversity loss (PVSE λ1)"),
    "mmd_weight": (float, "weight of the MMD loss (PVSE λ2)"),
    "margin": (float, "ranking-loss margin"),
    "embed_dim": (int, "joint embedding size D"),
    "hidden_dim": (int, "GRU hidden size H"),
}


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "run",
        help="train and evaluate methods, writing run records",
        description="Train each METHOD on the dataset's training split (model selection on "
        "validation), evaluate on --split, and write runs/{dataset}/{method}/{run_id}/ "
        "(config.json, metrics.json, t2v.run.gz, v2t.run.gz, checkpoint.pt, log.jsonl). "
        "Under torchrun, training is data-parallel and feature extraction sharded.",
    )
    parser.add_argument(
        "methods", nargs="+", metavar="METHOD", help="registered method names, e.g. pvse vsepp"
    )
    add_data_arguments(parser)
    train = add_training_arguments(parser, seeds=False)
    train.add_argument(
        "--patience",
        type=option_type("patience"),
        help="early stopping: end training after this many epochs without a better validation "
        "rsum (default: train every epoch)",
    )
    train.add_argument(
        "--tuning",
        type=nonempty,
        metavar="FILE",
        help="train with a stored tuning (`mrw-bench tune`): each method's chosen learning "
        "rate and knobs, the tuning's epoch budget and patience; recorded in config.json",
    )
    train.add_argument(
        "--min-word-count",
        type=option_type("min_word_count"),
        default=1,
        help="vocabulary threshold on the training split",
    )
    train.add_argument(
        "--resume",
        type=nonempty,
        metavar="RUN_DIR",
        help="continue an interrupted run (a run folder, or 'last')",
    )
    train.add_argument(
        "--finetune-epochs",
        type=option_type("finetune_epochs"),
        default=0,
        help="after training on cached features, unfreeze the CNN and train this many epochs on "
        "decoded frames (decoded once to a memory-mapped file beside the feature cache)",
    )
    train.add_argument(
        "--finetune-lr",
        type=option_type("finetune_lr"),
        default=2e-5,
        help="learning rate of the fine-tune stage",
    )
    out = parser.add_argument_group("evaluation and output")
    out.add_argument(
        "--split",
        default="test",
        choices=("test", "validation"),
        help="evaluated split (default: test)",
    )
    out.add_argument(
        "--run-id", type=nonempty, help="run folder name (default: time stamp + config hash)"
    )
    out.add_argument(
        "--run-depth",
        type=_run_depth,
        metavar="N|full",
        help="documents per query in the run files (default: the dataset's, e.g. full for "
        "mrw, 500 for tgif, lowered if needed to fit the scorer's default size limit)",
    )
    out.add_argument(
        "--kk-reductions",
        type=_reductions,
        default=(),
        metavar="R,R",
        help="also report recall under these K x K reductions of multi-embedding scores: mean, "
        "lse (log-sum-exp); the metrics rank by the method's own (PVSE: max, the paper's)",
    )
    out.add_argument(
        "--postprocess",
        action="append",
        default=[],
        type=_postprocess,
        metavar="NAME[:K=V,...]",
        help="also report the test metrics after this score post-processing, beside the raw "
        "ones (never instead): dsl (dual softmax, temperature=0.01, v2t_softmax=queries|gallery), "
        "qb-norm (k=1, beta=20) or "
        "inverted-softmax (beta=20), the last two with a bank of training-split queries; e.g. "
        "qb-norm:k=2,beta=10; each with its realistic-stream check (repeatable)",
    )
    out.add_argument(
        "--qb-bank-size",
        type=option_type("qb_bank_size"),
        default=5000,
        metavar="N",
        help="training pairs drawn (with --seed) for the qb-norm / inverted-softmax bank "
        "(default: 5000, or the whole split when smaller)",
    )
    add_method_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def add_method_arguments(parser: argparse.ArgumentParser) -> None:
    """The method flags (`METHOD_FLAGS`) and `--set`, shared by `run` and `tune`."""
    method = parser.add_argument_group("method options (applied to methods whose config has them)")
    for field, (kind, help_text) in METHOD_FLAGS.items():
        flag = "--" + field.replace("_", "-")
        if kind is bool:
            method.add_argument(
                flag, action="store_const", const=True, default=None, help=help_text
            )
        else:
            method.add_argument(flag, type=kind, help=help_text)
    method.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other config field, e.g. --set mmd_kernel=distance (repeatable)",
    )


def _run_depth(text: str) -> int:
    """`--run-depth`: a positive integer, or `full` (0, the whole gallery)."""
    if text.strip().lower() == "full":
        return 0
    try:
        depth = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a positive integer or 'full', got {text!r}"
        ) from None
    if depth <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'full', got {text!r}")
    return depth


def _reductions(text: str) -> tuple[str, ...]:
    """`--kk-reductions`: comma-separated names of `mrw.bench.setaware.REDUCTIONS`."""
    from mrw.bench.setaware import REDUCTIONS

    names = tuple(name.strip() for name in text.split(",") if name.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected reduction names, e.g. mean,lse, got {text!r}")
    unknown = [name for name in names if name not in REDUCTIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown reduction {', '.join(unknown)}; use {', '.join(REDUCTIONS)}"
        )
    return names


def _postprocess(text: str) -> str:
    """`--postprocess`: a name of `mrw.bench.postprocess.REGISTRY`, with valid parameters."""
    from mrw.bench.postprocess import PostprocessError, make_postprocess

    try:
        make_postprocess(text)
    except PostprocessError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def _parse_value(text: str, default: Any) -> Any:
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"expected true or false, got {text!r}") from None
    if isinstance(default, (int, float)):
        return type(default)(text)
    return text


def method_overrides(method: str, args: argparse.Namespace) -> dict[str, Any]:
    """The flags that `method`'s config has, plus `--set` entries that name its fields."""
    defaults = config_defaults(method)
    overrides = {
        name: getattr(args, name)
        for name in METHOD_FLAGS
        if getattr(args, name) is not None and name in defaults
    }
    return {**overrides, **parse_set(args.set, defaults)}


def config_defaults(method: str) -> dict[str, Any]:
    """The registered `method`'s config fields and their default values."""
    from mrw.methods.registry import get_method_class

    config = get_method_class(method).config_class()
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def parse_set(items: Sequence[str], defaults: Mapping[str, Any]) -> dict[str, Any]:
    """`--set FIELD=VALUE` entries (dashes in FIELD read as underscores) that name a field of
    `defaults`, each value parsed to its default's type; entries naming other fields are
    left out.

    Raises:
        MRWError: an entry without "=", or a value its field's type cannot take.
    """
    from mrw.core.errors import MRWError

    settings: dict[str, Any] = {}
    for item in items:
        name, sep, text = item.partition("=")
        name = name.strip().replace("-", "_")
        if not sep:
            raise MRWError(f"--set takes FIELD=VALUE, got {item!r}")
        if name in defaults:
            try:
                settings[name] = _parse_value(text.strip(), defaults[name])
            except ValueError as exc:
                raise MRWError(f"--set {name}: {exc}") from None
    return settings


def check_flags_apply(args: argparse.Namespace) -> None:
    """A method flag or --set field that none of the chosen methods has is a mistake, not a
    no-op."""
    from mrw.core.errors import MRWError
    from mrw.methods.registry import get_method_class

    fields = {
        f.name for m in args.methods for f in dataclasses.fields(get_method_class(m).config_class)
    }
    given = [n for n in METHOD_FLAGS if getattr(args, n) is not None]
    given += [item.partition("=")[0].strip().replace("-", "_") for item in args.set]
    unused = [n for n in given if n not in fields]
    if unused:
        raise MRWError(
            f"{', '.join(sorted(set(unused)))}: not an option of {', '.join(args.methods)}"
        )


def _check_dataset_there(dataset: str) -> None:
    """A catalogued dataset with neither a prepared folder nor any cached features cannot be
    run: say so (the loader's one line) before torch and the methods take seconds to load.
    Anything else is left to the runner (a folder, a hub id, features put in the cache)."""
    from mrw.catalog import cache_root, find_dataset
    from mrw.dataset.loader import resolve

    record = find_dataset(dataset)
    if record is not None and not (cache_root() / "features" / record.folder.name).exists():
        resolve(dataset, build=False)


def run(args: argparse.Namespace) -> int:
    _check_dataset_there(args.dataset)

    from mrw.bench import distributed as dist_util
    from mrw.bench.options import RunOptions
    from mrw.bench.postprocess import postprocessed_rows
    from mrw.bench.report import metrics_table
    from mrw.bench.runner import run_method
    from mrw.methods.registry import make_config

    check_flags_apply(args)
    overrides = {m: method_overrides(m, args) for m in args.methods}
    for method, fields in overrides.items():  # every method's config, before any run starts
        make_config(method, fields)
    options = RunOptions(
        dataset=args.dataset,
        split=args.split,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        patience=args.patience,
        seed=args.seed,
        device=args.device,
        num_frames=args.num_frames,
        fps=args.fps,
        image_size=args.image_size,
        grid=args.grid,
        backbone=args.backbone,
        weights=args.weights,
        standardize_features=args.standardize_features,
        glove=args.glove,
        min_word_count=args.min_word_count,
        runs_dir=args.runs_dir,
        run_id=args.run_id,
        run_depth=args.run_depth,
        resume=args.resume,
        feature_workers=args.workers,
        finetune_epochs=args.finetune_epochs,
        finetune_lr=args.finetune_lr,
        kk_reductions=args.kk_reductions,
        postprocess=tuple(args.postprocess),
        qb_bank_size=args.qb_bank_size,
    )
    if args.resume and len(args.methods) > 1:
        from mrw.core.cliutil import fail

        fail("--resume continues one run: give one METHOD")
    console = stdout_console(
        width=None if sys.stdout.isatty() else 140
    )  # logs keep the table on one line per run
    runs = {m: (overrides[m], options) for m in args.methods}
    if args.tuning:
        from mrw.bench.tuning import load_tuning, tuned

        tuning = load_tuning(args.tuning)
        for m in args.methods:  # every method's entry, before any run starts
            fields, own = tuned(tuning, m, overrides[m], options, args.tuning)
            runs[m] = (fields, dataclasses.replace(options, **own))
    rows, warnings = [], []
    for method in args.methods:
        result = run_method(method, *runs[method])
        rows.append((method, result.metrics))
        rows += postprocessed_rows(method, result.record.postprocessed)
        if result.record.metrics_multi_positive is not None:  # beside, labelled
            rows.append((f"{method} (multi-positive)", result.record.metrics_multi_positive))
        warnings += [result.record.small_split] if result.record.small_split else []
        if dist_util.is_main():
            console.print(f"[bold]{method}[/]: {result.run_dir}")
    if dist_util.is_main():
        title = f"{options.dataset} / {options.split}"
        console.print(metrics_table(rows, title=title, warnings=warnings))
    return 0
