"""Metrics tables for the terminal (rich): one row per run, the paper's columns."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

COLUMNS = ("R@1", "R@5", "R@10", "MedR")


def _cell(value: Any) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)


def metrics_table(rows: Iterable[tuple[str, Mapping[str, Any]]], title: str | None = None) -> Any:
    """A rich `Table` of (label, scorer `--json` metrics) rows: t2v and v2t recalls, MedR, rsum."""
    from rich.table import Table

    table = Table(title=title)
    table.add_column("run", style="bold")
    for direction in ("t2v", "v2t"):
        for column in COLUMNS:
            table.add_column(f"{direction} {column}", justify="right")
    table.add_column("rsum", justify="right", style="bold")
    for label, metrics in rows:
        cells = [_cell(metrics[d][c]) for d in ("t2v", "v2t") for c in COLUMNS]
        table.add_row(label, *cells, _cell(metrics["rsum"]))
    return table
