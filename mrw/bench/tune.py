"""`mrw-bench tune`: one tuning protocol for every method, by construction.

Every row (a method with its config overrides, e.g. PVSE at K=3) is trained at every point of
the same grid: the learning rates `LR_GRID` times the method's own knobs (`FIELD_GRIDS`, e.g.
Corr-AE's α), each with the same epoch budget and the same early stopping on validation rsum
(`--patience`: training ends after that many epochs without a better validation rsum, and
the best-validation weights are kept). Each point is an ordinary run through the harness's
runner, evaluated on the *validation* split, so the test split is never read: the runner
loads train, validation and the evaluated split only.

The selection rule is the same for all: the point with the highest best-epoch validation
rsum wins; a tie goes to the earlier point in grid order. The tuning file (JSON, one entry
per row: its grid, each point's validation curve, best epoch and epochs run, and the choice)
is what `mrw-bench run --tuning FILE` and `mrw-bench reproduce --tuning FILE` train with: the
chosen learning rate and knobs, the same epoch budget and patience; each run record keeps the
entry (`config.json`: `options.tuning`).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from mrw.bench.experiments import Experiment, Runner, run_experiments
from mrw.bench.options import RunOptions
from mrw.bench.tuning import TuningError, load_tuning, plot_tuning, tuning_key, write_tuning
from mrw.core.errors import MRWError

LR_GRID = (2e-4, 1e-3, 5e-3)
"""Learning rates every row is tried at: PVSE's 2e-4 and two steps of 5x above it."""
FIELD_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    # Feng et al. tune the correspondence weight per dataset; these span their range.
    "corr_ae": {"alpha": (0.5, 0.8, 0.95)},
}
"""Method-specific knobs tuned beside the learning rate, by method."""
EPOCHS = 20
PATIENCE = 3
SELECTION = "highest best-epoch validation rsum; ties: the earlier grid point"


def grid_points(method: str, lr_grid: Sequence[float]) -> list[tuple[float, dict[str, Any]]]:
    """(lr, tuned fields) of every grid point of `method`, in grid order (lr outermost)."""
    fields = FIELD_GRIDS.get(method, {})
    names = sorted(fields)
    combos = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(fields[n] for n in names))
    ]
    return [(lr, combo) for lr in lr_grid for combo in combos]


def validation_curve(run_dir: Path) -> list[float]:
    """Validation rsum per trained epoch, from a run's `log.jsonl`."""
    curve = []
    for line in (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "validation_rsum" in record and record.get("stage") != "finetune":
            curve.append(record["validation_rsum"])
    return curve


def tune_row(
    row: Experiment,
    options: RunOptions,
    lr_grid: Sequence[float] = LR_GRID,
    runner: Runner | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train `row` at every grid point on `options.seed`, evaluated on validation; choose.

    `options` carry the shared budget (`epochs`, `patience`); the evaluated split is forced to
    validation. Returns the tuning entry (see module doc).

    Raises:
        TuningError: the row already sets a tuned field, or `options` has no epoch budget.
    """
    fields = FIELD_GRIDS.get(row.method, {})
    clash = sorted(set(fields) & set(row.overrides))
    if clash:
        raise TuningError(f"{row.name}: {', '.join(clash)} is tuned; do not set it as well")
    if options.epochs is None or options.patience is None:
        raise TuningError("tuning needs an epoch budget and a patience")
    points = grid_points(row.method, lr_grid)
    experiments = [
        Experiment(
            row.method,
            {**row.overrides, **tuned},
            f"{row.name} tune lr={lr:g}" + "".join(f" {k}={v}" for k, v in tuned.items()),
            {**row.options, "lr": lr, "split": "validation"},
        )
        for lr, tuned in points
    ]
    done = run_experiments(experiments, options, [options.seed], runner=runner, log=log)
    results = []
    for (lr, tuned), runs in zip(points, done, strict=True):
        record = runs.records[0]
        results.append(
            {
                "lr": lr,
                "fields": tuned,
                "best_validation_rsum": record.best_validation_rsum,
                "best_epoch": record.best_epoch,
                "epochs_run": record.epochs_run,
                "curve": validation_curve(record.run_dir),
                "run_dir": str(record.run_dir),
            }
        )
    best = max(range(len(results)), key=lambda i: (results[i]["best_validation_rsum"], -i))
    return {
        "key": tuning_key(row.method, row.overrides),
        "label": row.name,
        "method": row.method,
        "overrides": dict(row.overrides),
        "grid": {"lr": list(lr_grid), **{k: list(v) for k, v in fields.items()}},
        "seed": options.seed,
        "epochs": options.epochs,
        "patience": options.patience,
        "selection": SELECTION,
        "points": results,
        "choice": {"lr": results[best]["lr"], "fields": results[best]["fields"]},
    }


def default_path(options: RunOptions) -> Path:
    """`RUNS_DIR/{dataset}/tuning.json`."""
    from mrw.bench.features import dataset_slug

    return Path(options.runs_dir) / dataset_slug(options.dataset) / "tuning.json"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mrw.bench.commands.features import add_data_arguments
    from mrw.bench.commands.run import add_method_arguments
    from mrw.bench.experiments import row_labels

    parser = subparsers.add_parser(
        "tune",
        help="choose each method's learning rate (and knobs) on validation, by one protocol",
        description="Train every row at every grid point (learning rates, plus a method's own "
        "knobs such as Corr-AE's alpha) with the same epoch budget and early stopping on "
        "validation rsum, evaluate on validation only (the test split is never read), and "
        "keep the point with the best validation rsum. Writes a tuning file that `run "
        "--tuning` and `reproduce --tuning` train with. Rows: METHOD... with the method "
        "flags, or --table (every row of `reproduce TABLE`).",
    )
    parser.add_argument("methods", nargs="*", metavar="METHOD", help="registered method names")
    parser.add_argument(
        "--table", help="tune every row of this `reproduce` table instead (e.g. toy, toy-v3)"
    )
    parser.add_argument(
        "--rows",
        type=row_labels,
        metavar="LABEL[,LABEL...]",
        help="with --table: only these rows, by label (default: all)",
    )
    add_data_arguments(parser)
    group = parser.add_argument_group("protocol")
    group.add_argument(
        "--lr-grid",
        type=_floats,
        default=LR_GRID,
        help=f"comma-separated learning rates (default: {','.join(f'{x:g}' for x in LR_GRID)})",
    )
    group.add_argument(
        "--epochs", type=int, default=EPOCHS, help="epoch budget (default: %(default)s)"
    )
    group.add_argument(
        "--patience",
        type=int,
        default=PATIENCE,
        help="stop after this many epochs without a better validation rsum (default: %(default)s)",
    )
    group.add_argument("--seed", type=int, default=0, help="seed of every point (default: 0)")
    group.add_argument("--glove", metavar="PATH", help="glove.840B.300d.txt")
    group.add_argument("--runs-dir", default="runs", help="root of run records (default: ./runs)")
    group.add_argument(
        "--out", metavar="FILE", help="tuning file (default: RUNS_DIR/DATASET/tuning.json)"
    )
    group.add_argument(
        "--plot",
        metavar="PNG",
        help="also plot every row of the tuning file: validation rsum per epoch at its choice",
    )
    add_method_arguments(parser)
    parser.set_defaults(func=main)
    return parser


def _floats(text: str) -> tuple[float, ...]:
    try:
        values = tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated numbers, got {text!r}"
        ) from None
    if not values or not all(0 < v < 1e6 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive learning rates, got {text!r}")
    return values


def _rows(args: argparse.Namespace) -> tuple[list[Experiment], RunOptions]:
    from mrw.bench.commands.run import check_flags_apply, method_overrides
    from mrw.bench.experiments import validate

    shared = {
        "epochs": args.epochs,
        "patience": args.patience,
        "seed": args.seed,
        "glove": args.glove,
        "runs_dir": args.runs_dir,
        "device": args.device,
        "feature_workers": args.workers,
    }
    if args.table:
        from mrw.bench.experiments import select_rows
        from mrw.bench.reproduce import make_plan, paper_datasets, paper_options

        if args.methods:
            raise MRWError("give METHOD... or --table, not both")
        tables = paper_datasets()
        if args.table not in tables:
            raise MRWError(f"unknown table {args.table!r}; choose from {', '.join(tables)}")
        record = tables[args.table]
        options = paper_options(record, RunOptions(**shared))
        rows = make_plan(args.table, record).experiments
        if args.rows:
            rows = select_rows(rows, args.rows)
    else:
        if not args.methods or args.rows:
            raise MRWError("give METHOD... or --table (with --rows)")
        check_flags_apply(args)
        data = ("dataset", "num_frames", "fps", "image_size", "grid", "backbone", "weights")
        options = RunOptions(
            **{name: getattr(args, name) for name in data},
            standardize_features=args.standardize_features,
            **shared,
        )
        rows = [Experiment(m, method_overrides(m, args), m) for m in args.methods]
    validate(rows)
    return rows, options


def main(args: argparse.Namespace) -> int:
    from mrw.core.atomic import check_output_path

    rows, options = _rows(args)
    options.resolved(rows[0].method)  # bad options fail before any training
    out = Path(args.out) if args.out else default_path(options)
    check_output_path(out, folder=False)
    if args.plot:
        check_output_path(args.plot, folder=False)
    points = sum(len(grid_points(r.method, args.lr_grid)) for r in rows)
    print(
        f"tuning {len(rows)} rows, {points} runs on {options.dataset} (validation only): "
        f"lr grid {list(args.lr_grid)}, {options.epochs} epochs, patience {options.patience}"
    )
    for row in rows:
        entry = tune_row(row, options, args.lr_grid)
        write_tuning(out, options.dataset, [entry])  # after each row: nothing finished is lost
        choice = entry["choice"]
        chosen = next(
            p for p in entry["points"] if (p["lr"], p["fields"]) == (choice["lr"], choice["fields"])
        )
        print(
            f"{row.name}: lr {choice['lr']:g}"
            + "".join(f", {k} {v}" for k, v in choice["fields"].items())
            + f" (validation rsum {chosen['best_validation_rsum']:.1f} at epoch "
            f"{chosen['best_epoch']} of {chosen['epochs_run']})"
        )
    print(f"wrote {out}")
    if args.plot:
        print(f"wrote {plot_tuning(load_tuning(out), args.plot)}")
    return 0
