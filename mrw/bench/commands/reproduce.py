"""`mrw-bench reproduce`: the command's arguments and handler; the work is `mrw.bench.reproduce`."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from mrw.bench.experiments import MAX_SEEDS, row_labels, select_rows
from mrw.bench.options import RunOptions, option_type
from mrw.bench.reproduce import (
    PLANNED_FIELDS,
    ReproduceError,
    datasets_for,
    describe,
    estimate_gpu_hours,
    execute,
    format_duration,
    make_plan,
    paper_datasets,
    paper_options,
    plan_json,
    targets,
)
from mrw.core.cliargs import integer, nonempty


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "reproduce",
        help="the paper's Tables 3/4 and Figures 5-7 at its settings (with a --dry-run plan)",
        description="Run the PVSE paper's experiments with its settings: table3 (TGIF: T=8, K=3), "
        "table4 (MRW: T=4, K=5), fig5 (rsum vs K), fig6 (ablations vs K), fig7 (λ1, λ2 "
        "grids), toy (the toy-set table). Prints the plan, its departures from the paper and a "
        "rough GPU time estimate first. Needs the dataset "
        "(mrw download / mrw import), ImageNet ResNet-152 weights and, for the paper's "
        "numbers, --glove.",
    )
    parser.add_argument("target", choices=targets())
    parser.add_argument(
        "--dataset",
        choices=[d.name for d in paper_datasets().values()],
        help="figures: only this dataset (default: every dataset of the paper's figures)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print the plan, each table's protocol card, its departures from the paper and "
        "the estimate; run nothing",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="with --dry-run: print the plan as one JSON document (rows, protocol cards, "
        "GPU-hour estimate) instead",
    )
    parser.add_argument(
        "--tgif-protocol",
        choices=("paper", "all-sentences"),
        default="paper",
        help="TGIF test scoring: paper (one sentence per test video, 1:1, as the reference "
        "code) or all-sentences (every sentence a query) (default: paper)",
    )
    parser.add_argument(
        "--lr-schedule",
        choices=("harness", "reference"),
        default="harness",
        help="harness (halve the lr when validation rsum stalls for an epoch) or reference "
        "(yalesong/pvse's ReduceLROnPlateau in mode 'min', patience 10) (default: harness)",
    )
    parser.add_argument(
        "--epochs",
        type=option_type("epochs"),
        help="override the paper's epochs (e.g. a quick check)",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="a PVSE config field for every PVSE run, e.g. --set mmd_kernel=distance "
        "(repeatable; the departures list names those that restore the reference code's)",
    )
    parser.add_argument(
        "--rows",
        type=row_labels,
        metavar="LABEL[,LABEL...]",
        help="a table's rows to run, by their labels as --dry-run prints them (default: all)",
    )
    parser.add_argument(
        "--tuning",
        type=nonempty,
        metavar="FILE",
        help="train every table row with its stored tuning (`mrw-bench tune --table TARGET`): "
        "its chosen learning rate and knobs, epoch budget and patience",
    )
    parser.add_argument(
        "--seed", type=option_type("seed"), default=0, help="first seed (default: 0)"
    )
    parser.add_argument(
        "--seeds",
        type=integer(1, MAX_SEEDS),
        default=1,
        help="seeds per configuration (default: 1)",
    )
    parser.add_argument(
        "--glove",
        type=nonempty,
        metavar="PATH",
        help="glove.840B.300d.txt (the paper's word vectors)",
    )
    parser.add_argument(
        "--device", default="auto", help="auto, cpu, cuda or cuda:N (default: auto)"
    )
    parser.add_argument(
        "--runs-dir", type=nonempty, default="runs", help="root of run records (default: ./runs)"
    )
    parser.add_argument(
        "--out",
        type=nonempty,
        metavar="DIR",
        help="tables and plots (default: RUNS_DIR/reproduce); --dry-run checks it, writes nothing",
    )
    parser.set_defaults(func=run)
    return parser


def _pvse_settings(items: list[str]) -> dict[str, Any]:
    """`--set` entries as PVSE config fields; a field PVSE does not have is an error."""
    from mrw.bench.commands.run import config_defaults, parse_set
    from mrw.methods.registry import make_config

    defaults = config_defaults("pvse")
    for item in items:
        name = item.partition("=")[0].strip().replace("-", "_")
        if name not in defaults:
            raise ReproduceError(f"--set {item}: not an option of pvse")
        if name in PLANNED_FIELDS:
            raise ReproduceError(f"--set {item}: the plan sets {name} itself, run by run")
    settings = parse_set(items, defaults)
    make_config("pvse", settings)  # a contradictory or invalid value fails before any plan
    return settings


def run(args: argparse.Namespace) -> int:
    from mrw.bench.experiments import seed_range, validate
    from mrw.core.atomic import check_output_path

    if args.json and not args.dry_run:
        raise ReproduceError("--json prints the plan of --dry-run; add --dry-run")
    seeds = seed_range(args.seed, args.seeds)
    pvse = _pvse_settings(args.set)
    base = RunOptions(
        epochs=args.epochs,
        glove=args.glove,
        device=args.device,
        runs_dir=args.runs_dir,
        lr_schedule=args.lr_schedule,
        one_sentence_per_video=args.tgif_protocol == "paper",
    )
    plans = [
        (make_plan(args.target, d, pvse), paper_options(d, base))
        for d in datasets_for(args.target, args.dataset)
    ]
    if args.rows:
        for plan, _ in plans:
            plan.experiments = select_rows(plan.experiments, args.rows)
    if args.tuning:
        from mrw.bench.tuning import load_tuning, tuned_experiments

        if any(plan.sweeps for plan, _ in plans):
            raise ReproduceError("--tuning applies to tables, not to figures")
        tuning = load_tuning(args.tuning)
        for plan, options in plans:
            # the tuning's own epoch budget, unless --epochs asks for another (refused there)
            asked = dataclasses.replace(options, epochs=args.epochs)
            plan.experiments = tuned_experiments(plan.experiments, tuning, asked, args.tuning)
    for plan, _ in plans:
        validate(plan.all_experiments())
    total = sum(sum(estimate_gpu_hours(p, o, len(seeds))) for p, o in plans)
    if args.json:
        plans_json = [plan_json(plan, options, seeds) for plan, options in plans]
        print(json.dumps({"plans": plans_json, "total_gpu_hours": total}, indent=2))
        return 0
    for plan, options in plans:
        print(describe(plan, options, seeds))
    print(f"total: about {format_duration(total)} of GPU time")
    out_dir = Path(args.out) if args.out else Path(args.runs_dir) / "reproduce"
    for path in (out_dir, Path(args.runs_dir)):  # before hours of training (or a dry run)
        check_output_path(path, folder=True)
    if args.dry_run:
        print(f"dry run: nothing trained or written (tables and plots would go to {out_dir})")
        return 0
    for plan, options in plans:
        for path in execute(plan, options, seeds, out_dir):
            print(f"wrote {path}")
    return 0
