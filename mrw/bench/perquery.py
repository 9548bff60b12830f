"""Two runs' per-query tables side by side (`mrw-bench compare A B --per-query PATH`).

Rows are joined on (direction, query id), so two runs of the same split line up whatever
their order (rows of A that B lacks are left out). The per-run columns of `per_query.parquet`
(`rank`, `k_query`, `k_item`, `margin`, `head_ranks`, `rank_<reduction>`) appear suffixed `_a`
and `_b`; `fixed` and `broken` mark queries correct at R@1 in B only, or in A only. The output
is Parquet, read as is by pandas, Polars, DuckDB or FiftyOne (see docs/harness.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mrw.bench.setaware import PER_QUERY_FILE
from mrw.core.errors import MRWError

PER_RUN = ("rank", "k_query", "k_item", "margin", "head_ranks", "rank_mean", "rank_lse")
SHARED = ("direction", "query", "query_id", "text", "relevant")
PARQUET_MAGIC = b"PAR1"


def paired_table(run_a: str | Path, run_b: str | Path) -> Any:
    """The joined `pyarrow.Table` of two runs' per-query tables (see the module docstring).

    Raises:
        MRWError: a run without `per_query.parquet`, or two runs with no query in common.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    tables = []
    for run in (run_a, run_b):
        path = Path(run) / PER_QUERY_FILE
        try:
            tables.append(pq.read_table(path))
        except (OSError, pa.ArrowException):
            raise MRWError(
                f"{path}: no readable per-query table (a run of format 3 has one)"
            ) from None
    a, b = tables
    where = {key: i for i, key in enumerate(zip(*_keys(b), strict=True))}
    pairs = [(i, where.get(key)) for i, key in enumerate(zip(*_keys(a), strict=True))]
    pairs = [(i, j) for i, j in pairs if j is not None]
    if not pairs:
        raise MRWError("--per-query: the two runs have no query in common (another split?)")
    rows_a = pa.array([i for i, _ in pairs], type=pa.int64())
    rows_b = pa.array([j for _, j in pairs], type=pa.int64())
    columns = {c: a[c].take(rows_a) for c in a.column_names if c in SHARED}
    for side, table, rows in (("a", a, rows_a), ("b", b, rows_b)):
        columns |= {f"{c}_{side}": table[c].take(rows) for c in table.column_names if c in PER_RUN}
    joined = pa.table(columns)
    ones = {side: pc.equal(joined[f"rank_{side}"], 1) for side in "ab"}
    joined = joined.append_column("fixed", pc.and_(pc.invert(ones["a"]), ones["b"]))
    joined = joined.append_column("broken", pc.and_(ones["a"], pc.invert(ones["b"])))
    return joined.sort_by([("direction", "ascending"), ("query", "ascending")])


def _keys(table: Any) -> tuple[list[str], list[str]]:
    return table["direction"].to_pylist(), table["query_id"].to_pylist()


def write_paired(run_a: str | Path, run_b: str | Path, out: str | Path) -> dict[str, Any]:
    """Write `paired_table` to `out` (Parquet, atomically); returns per direction the counts
    of queries compared, fixed (wrong at R@1 in A, right in B) and broken (the reverse)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from mrw.core.atomic import atomic_write

    table = paired_table(run_a, run_b)
    with atomic_write(out, "wb") as handle:
        pq.write_table(table, handle, compression="zstd")
    counts = {}
    for direction in ("t2v", "v2t"):
        part = table.filter(pc.equal(table["direction"], direction))
        counts[direction] = {
            "queries": part.num_rows,
            "fixed": int(pc.sum(part["fixed"]).as_py() or 0),
            "broken": int(pc.sum(part["broken"]).as_py() or 0),
        }
    return counts
