"""`mrw stats`: the MRW paper's descriptive statistics of a dataset, as a table, JSON or a
sentence-length histogram."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mrw.dataset.stats import compute_stats, plot_lengths, read_metadata, render_table


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the `mrw stats` sub-command to `subparsers`; return its parser."""
    parser = subparsers.add_parser(
        "stats",
        help="descriptive statistics of a dataset (pairs, frames, words, vocabulary)",
        description="Print the MRW paper's descriptive table for a dataset folder or a "
        "prepared dataset (mrw, tgif, toy): pairs and videos per split, average frames and "
        "seconds per video, average words per sentence, vocabulary size, average word frequency.",
    )
    parser.add_argument("dataset", help="a dataset folder, or mrw / tgif / toy")
    parser.add_argument(
        "--config",
        choices=("default", "urls"),
        default=None,
        help="which config to read (default: default, else urls)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument(
        "--plot",
        type=Path,
        default=None,
        metavar="PNG",
        help="also write histograms of sentence and clip lengths to PNG",
    )
    parser.set_defaults(func=run)
    return parser


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run(args: argparse.Namespace) -> int:
    from mrw.core.atomic import check_output_file, file_starts_with

    if args.plot:  # an earlier plot may be replaced, nothing else (a dataset card, a device)
        check_output_file(args.plot, lambda path: file_starts_with(path, PNG_SIGNATURE))
    rows = read_metadata(args.dataset, args.config)
    stats = compute_stats(args.dataset, rows=rows)
    if args.json:
        print(json.dumps(stats.to_dict(), indent=2))
    else:
        from mrw.core.cliutil import stdout_console

        stdout_console().print(render_table(stats))
    if args.plot:
        plot_lengths(rows, args.plot, str(args.dataset))
    return 0
