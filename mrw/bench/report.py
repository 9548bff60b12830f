"""Metrics tables for the terminal (rich): one row per run, the paper's columns."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from leaderboard.metrics import DIRECTIONS, RECALL_KS

if TYPE_CHECKING:
    from leaderboard.metrics import Metrics

COLUMNS = (*(f"R@{k}" for k in RECALL_KS), "MedR")


def metrics_table(
    rows: Iterable[tuple[str, Metrics]], title: str | None = None, warnings: Iterable[str] = ()
) -> Any:
    """A rich `Table` of (label, metrics) rows: each direction's recalls and MedR, then rsum;
    `warnings` (e.g. a split too small to mean much) are its caption, one line each."""
    from rich.table import Table

    from leaderboard.render import display

    caption = "\n".join(f"warning: {w}" for w in dict.fromkeys(warnings)) or None
    table = Table(title=title, caption=caption, caption_style="bold yellow")
    table.add_column("run", style="bold")
    for direction in DIRECTIONS:
        for column in COLUMNS:
            table.add_column(f"{direction} {column}", justify="right")
    table.add_column("rsum", justify="right", style="bold")
    for label, metrics in rows:
        cells = [display(metrics.direction(d).value(c)) for d in DIRECTIONS for c in COLUMNS]
        table.add_row(label, *cells, display(metrics.rsum))
    return table
