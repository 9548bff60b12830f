"""`mrw-bench tune`: the command's arguments and handler; the work is `mrw.bench.tune`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrw.bench.experiments import Experiment
from mrw.bench.options import RunOptions, option_type
from mrw.bench.tune import EPOCHS, LR_GRID, PATIENCE, default_path, grid_points, tune_row
from mrw.bench.tuning import load_tuning, plot_tuning, write_tuning
from mrw.core.cliargs import nonempty
from mrw.core.errors import MRWError


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from mrw.bench.commands.args import add_data_arguments
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
        "--epochs",
        type=option_type("epochs"),
        default=EPOCHS,
        help="epoch budget (default: %(default)s)",
    )
    group.add_argument(
        "--patience",
        type=option_type("patience"),
        default=PATIENCE,
        help="stop after this many epochs without a better validation rsum (default: %(default)s)",
    )
    group.add_argument(
        "--seed", type=option_type("seed"), default=0, help="seed of every point (default: 0)"
    )
    group.add_argument("--glove", type=nonempty, metavar="PATH", help="glove.840B.300d.txt")
    group.add_argument(
        "--runs-dir", type=nonempty, default="runs", help="root of run records (default: ./runs)"
    )
    group.add_argument(
        "--out",
        type=nonempty,
        metavar="FILE",
        help="tuning file (default: RUNS_DIR/DATASET/tuning.json)",
    )
    group.add_argument(
        "--plot",
        type=nonempty,
        metavar="PNG",
        help="also plot every row of the tuning file: validation rsum per epoch at its choice",
    )
    add_method_arguments(parser)
    parser.set_defaults(func=run)
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


def run(args: argparse.Namespace) -> int:
    from mrw.core.atomic import check_output_file, file_starts_with

    rows, options = _rows(args)
    options.resolved(rows[0].method)  # bad options fail before any training
    out = Path(args.out) if args.out else default_path(options)
    check_output_file(out, _is_tuning_file)  # an earlier tuning is extended, nothing else
    if args.plot:
        check_output_file(args.plot, lambda path: file_starts_with(path, b"\x89PNG"))
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


def _is_tuning_file(path: Path) -> bool:
    """Whether `path` holds a tuning file (`mrw.bench.tuning.load_tuning` reads it)."""
    try:
        load_tuning(path)
    except MRWError:
        return False
    return True
