"""Arguments and output shared by the scoring sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from leaderboard.parse import DEFAULT_MAX_BYTES
from mrw.core.cliutil import stdout_console

if TYPE_CHECKING:
    from leaderboard.metrics import Metrics


ONE_SPLIT_HELP = "directory holding t2v.qrels and v2t.qrels (e.g. DATASET/qrels/test)"


def add_truth_argument(parser: argparse.ArgumentParser, truth_help: str = ONE_SPLIT_HELP) -> None:
    """Add `--truth DIR` (the qrels folder, required; `truth_help` says which) and
    `--max-bytes N` to `parser`."""
    parser.add_argument("--truth", type=Path, required=True, metavar="DIR", help=truth_help)
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help="refuse run files larger than N bytes uncompressed (default: 2 GiB)",
    )


def add_run_pair_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the truth arguments and the positional `T2V_RUN V2T_RUN` run files to `parser`."""
    add_truth_argument(parser)
    parser.add_argument("t2v_run", type=Path, metavar="T2V_RUN", help="text-to-video run file")
    parser.add_argument("v2t_run", type=Path, metavar="V2T_RUN", help="video-to-text run file")


@contextlib.contextmanager
def line_progress(label: str) -> Iterator[Callable[[int], None]]:
    """A tqdm counter of parsed lines on stderr (silent when stderr is not a terminal)."""
    if not sys.stderr.isatty():  # what tqdm's disable=None decides, without importing it
        yield lambda lines: None
        return
    from tqdm import tqdm

    with tqdm(desc=label, unit=" lines", unit_scale=True, file=sys.stderr, disable=None) as bar:
        yield bar.update


def print_metrics(result: Metrics) -> None:
    """Both directions as a table (a row per metric, so it fits any terminal), then rsum."""
    from rich.table import Table

    from leaderboard.metrics import DIRECTIONS
    from leaderboard.render import METRIC_KEYS, display, metric_cells

    table = Table("metric", *DIRECTIONS)
    cells = [metric_cells(result.direction(direction)) for direction in DIRECTIONS]
    for key, *values in zip(METRIC_KEYS, *cells, strict=True):
        table.add_row(key, *values)
    console = stdout_console()
    console.print(table)
    console.print(f"rsum: {display(result.rsum)}")
