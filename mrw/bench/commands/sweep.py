"""`mrw-bench sweep`: rsum against K or a loss weight (the paper's Figures 5-7), with a plot;
the sweep itself is `mrw.bench.sweep`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from mrw.bench.commands.args import (
    add_data_arguments,
    add_training_arguments,
    options_from_args,
)
from mrw.bench.sweep import (
    ABLATIONS,
    FULL_MODEL,
    PARAMETERS,
    SweepError,
    SweepSpec,
    parse_values,
    run_sweep,
    write_sweep,
)


def spec_from_args(args: argparse.Namespace) -> SweepSpec:
    """The `SweepSpec` of `mrw-bench sweep`'s arguments.

    Raises:
        SweepError: Not exactly one swept parameter, an unknown ablation or unreadable values.
    """
    chosen = [(name, getattr(args, name)) for name in PARAMETERS if getattr(args, name) is not None]
    if len(chosen) != 1:
        raise SweepError("give exactly one of --k, --div-weight, --mmd-weight")
    parameter, text = chosen[0]
    variants: dict[str, dict[str, Any]] = {FULL_MODEL: {}}
    for name in filter(None, (a.strip() for a in (args.ablations or "").split(","))):
        if name not in ABLATIONS:
            raise SweepError(f"unknown ablation {name!r}; choose from {', '.join(ABLATIONS)}")
        variants[name] = ABLATIONS[name]
    base = {"k": args.fixed_k} if args.fixed_k is not None and parameter != "k" else {}
    return SweepSpec(parameter, parse_values(text, PARAMETERS[parameter][0]), variants, base)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `sweep` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "sweep",
        help="rsum against K or a loss weight (paper Figs. 5-7), with PNG plot",
        description="Train PVSE at each value of one setting (and, with --ablations, each ablated "
        "variant), under --seeds seeds, then plot rsum (mean ± std) against the value. "
        "Finished points are reused when the sweep is run again. Examples: "
        "`--k 0..8` (Fig. 5), `--k 1..8 --ablations no-global,no-residual,no-mil` (Fig. 6), "
        "`--div-weight 0,0.01,0.1,1` (Fig. 7).",
    )
    swept = parser.add_argument_group("what to sweep (exactly one)")
    swept.add_argument("--k", metavar="VALUES", help="numbers of embeddings, e.g. 0..8")
    swept.add_argument("--div-weight", metavar="VALUES", help="λ1 grid, e.g. 0,0.01,0.1,1")
    swept.add_argument("--mmd-weight", metavar="VALUES", help="λ2 grid, e.g. 0,0.001,0.01,0.1")
    swept.add_argument("--ablations", metavar="NAMES", help=f"extra curves: {','.join(ABLATIONS)}")
    swept.add_argument("--fixed-k", type=int, help="K for the λ sweeps (default: PVSE's default)")
    add_data_arguments(parser)
    add_training_arguments(parser)
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="where the plot, JSON and table go (default: RUNS_DIR/DATASET-sweeps)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the sweep `args` describe, write its plot, JSON and table; return the exit code."""
    from mrw.bench.experiments import seed_range
    from mrw.core.atomic import check_output_path

    spec = spec_from_args(args)
    options = options_from_args(args)
    out_dir = (
        Path(args.out) if args.out else Path(args.runs_dir) / f"{Path(args.dataset).name}-sweeps"
    )
    check_output_path(out_dir, folder=True)  # before hours of training, not after
    result = run_sweep(spec, options, seed_range(args.seed, args.seeds))
    paths = write_sweep(result, out_dir)
    print(result.table, end="")
    for kind, path in paths.items():
        print(f"{kind}: {path}")
    return 0
