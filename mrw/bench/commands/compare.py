"""`mrw-bench compare`: the command's arguments and handler; the work is `mrw.bench.compare`."""

from __future__ import annotations

import argparse
from pathlib import Path

from mrw.bench.compare import CompareError, Comparison, check_outputs, compare_runs, write_outputs
from mrw.core.atomic import check_output_file, file_starts_with
from mrw.core.cliargs import nonempty


def _per_query(args: argparse.Namespace) -> int:
    """`--per-query PATH`: two run folders' per-query tables side by side (`mrw.bench.perquery`)."""
    from mrw.bench.perquery import PARQUET_MAGIC, write_paired

    if len(args.runs) != 2:
        raise CompareError("--per-query takes exactly two run folders (A B)")
    from mrw.bench.record import RunRecord

    records = [RunRecord.from_disk(run) for run in args.runs]
    if records[0].dataset != records[1].dataset or records[0].split != records[1].split:
        raise CompareError(
            f"--per-query pairs the queries of one test set: {args.runs[0]} is "
            f"{records[0].dataset}/{records[0].split}, {args.runs[1]} is "
            f"{records[1].dataset}/{records[1].split}"
        )
    out = Path(args.per_query)
    if out.resolve().parent in {r.run_dir.resolve() for r in records}:
        raise CompareError(f"--per-query {args.per_query!r}: give a file outside the run folders")
    check_output_file(out, lambda path: file_starts_with(path, PARQUET_MAGIC))
    counts = write_paired(*args.runs, args.per_query)
    for direction, c in counts.items():
        print(
            f"{direction}: {c['queries']} queries; fixed by B (wrong at R@1 in A): {c['fixed']}; "
            f"broken by B: {c['broken']}"
        )
    print(f"wrote {args.per_query}")
    return 0


def _beside(comparison: Comparison) -> str:
    """The tables printed after the raw ones, never ranked with them: multi-positive
    relevance (runs on a dataset with near-duplicate groups) and post-processed rows
    (`--postprocess`); "" when there are none."""
    from mrw.bench.multipositive import multi_positive_markdown
    from mrw.bench.postprocess import postprocessed_markdown

    tables = (multi_positive_markdown(comparison.groups), postprocessed_markdown(comparison.groups))
    return "".join(f"\n{table}" for table in tables if table)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "compare",
        help="tabulate run records: the paper's Tables 3/4 layout, mean ± std over seeds",
        description="Collect finished run records (folders with metrics.json) under RUNS, group "
        "them by dataset, split, protocol card, method and settings (seeds are repeats), and "
        "print text-to-video and video-to-text R@1/R@5/R@10/MedR (nMR) and rsum as Markdown "
        "tables, mean ± sample std over seeds: one table per protocol card, headed by it "
        "(runs of different cards are never ranked together).",
    )
    parser.add_argument(
        "runs", nargs="+", metavar="RUNS", help="run folders or roots to search (e.g. runs/toy)"
    )
    parser.add_argument(
        "--markdown", type=nonempty, metavar="PATH", help="also write the Markdown table here"
    )
    parser.add_argument(
        "--json", type=nonempty, metavar="PATH", help="write the table as JSON here"
    )
    parser.add_argument(
        "--per-query",
        type=nonempty,
        metavar="PATH",
        help="with two run folders A B: write their per-query tables joined on the query "
        "(Parquet: ranks, winning heads and margins of both, fixed/broken at R@1) here",
    )
    parser.add_argument(
        "--include-tuning",
        action="store_true",
        help="also tabulate the grid points of `mrw-bench tune` (validation runs; left out by "
        "default)",
    )
    parser.add_argument(
        "--against",
        action="append",
        type=nonempty,
        default=[],
        metavar="LABEL",
        help="paired tests (t-test over seeds on rsum, and over test pairs per seed) of every row "
        "against this row, named by its label or a unique part of it, e.g. 'pvse (k=1'; "
        "repeatable (default: against each table's best row)",
    )
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    check_outputs(args.markdown, args.json)
    if args.per_query:
        return _per_query(args)
    comparison = compare_runs(args.runs, include_tuning=args.include_tuning)
    try:
        comparison.add_tests(args.against)
    except ValueError as exc:
        raise CompareError(str(exc)) from None
    beside = _beside(comparison)
    print(comparison.to_markdown() + beside, end="")
    write_outputs(comparison, args.markdown, args.json, beside.removeprefix("\n"))
    return 0
