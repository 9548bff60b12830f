"""Arguments and output shared by the scoring sub-commands."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from leaderboard.limits import DEFAULT_MAX_BYTES
from mrw.core.cliargs import integer
from mrw.core.cliutil import stdout_console

if TYPE_CHECKING:
    from leaderboard.metrics import Metrics
    from mrw.core.protocol import ProtocolCard


ONE_SPLIT_HELP = "directory holding t2v.qrels and v2t.qrels (e.g. DATASET/qrels/test)"


def add_truth_argument(parser: argparse.ArgumentParser, truth_help: str = ONE_SPLIT_HELP) -> None:
    """Add `--truth DIR` (the qrels folder, required; `truth_help` says which) and
    `--max-bytes N` to `parser`."""
    parser.add_argument("--truth", type=Path, required=True, metavar="DIR", help=truth_help)
    parser.add_argument(
        "--max-bytes",
        type=integer(1),
        default=DEFAULT_MAX_BYTES,
        metavar="N",
        help="refuse run files larger than N bytes uncompressed (default: 2 GiB)",
    )


def add_card_argument(parser: argparse.ArgumentParser) -> None:
    """Add `--card FILE`: the run pair's protocol card when it is not beside the files."""
    parser.add_argument(
        "--card",
        type=Path,
        metavar="FILE",
        help="the run pair's protocol card (a protocol.json; default: the protocol.json "
        "beside the run files, if any)",
    )


def run_pair_card(args: argparse.Namespace) -> ProtocolCard | None:
    """The protocol card of `args.t2v_run`/`args.v2t_run`: `--card FILE` when given, else the
    `protocol.json` sidecar beside the files (`mrw.core.protocol.sidecar_card`), else None.

    Raises:
        ProtocolCardError: an unreadable card, or two sidecars that disagree.
    """
    from mrw.core.protocol import read_card_file, sidecar_card

    if args.card is not None:
        return read_card_file(args.card)
    return sidecar_card(args.t2v_run, args.v2t_run)


def print_card(card: ProtocolCard | None) -> None:
    """One line naming the protocol card (or that the run pair states none), its text
    stripped of control characters (a card's strings come from a file)."""
    from mrw.core.untrusted import strip_control

    text = f"protocol card: {card.summary()}" if card else "protocol card: none stated"
    print(strip_control(text))


def add_run_pair_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the truth arguments, `--card FILE` and the positional `T2V_RUN V2T_RUN` run files
    to `parser`."""
    add_truth_argument(parser)
    add_card_argument(parser)
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
