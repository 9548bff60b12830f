"""First-relevant ranks -> retrieval metrics: the one scoring path.

The harness (ranks from full similarity matrices, always exact) and the leaderboard scorer
(ranks from possibly truncated run files) both call `ranks_to_metrics`, so a number on the
board and a number in a run record are computed by the same lines.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

RECALL_KS: tuple[int, ...] = (1, 5, 10)
NOT_FOUND = 0  # rank value for "no relevant document within the run's depth" (or query missing)


def _lower_bound(value: float) -> str:
    return f">= {value:.4g}"


def ranks_to_metrics(
    ranks: np.ndarray,
    gallery_size: int,
    depth: int | None = None,
    missing_queries: int = 0,
) -> dict[str, Any]:
    """Metrics of one retrieval direction.

    `ranks` holds, per query, the 1-based rank of its first relevant document, or
    `NOT_FOUND` (0) when none is within `depth` (queries absent from a run included, and
    counted in `missing_queries`). `depth=None` means full depth: every rank is known except
    for missing queries.

    Conventions (those of the VSE++/PVSE evaluation code behind published numbers):
    R@k is the percentage of queries with a relevant document in the top k; MedR is
    floor(median of 0-based ranks) + 1; MeanR is the mean 1-based rank; nMR = MedR / gallery.
    Values a truncated run cannot determine are strings: R@k for k > depth and MeanR become
    lower bounds (">= x"), MedR becomes "> d" when at most half the queries are found.
    """
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    if gallery_size <= 0:
        raise ValueError("gallery_size must be positive")
    n = int(ranks.size)
    d = gallery_size if depth is None else int(depth)
    found = ranks != NOT_FOUND
    out: dict[str, Any] = {}
    for k in RECALL_KS:
        hit = 100.0 * float(np.count_nonzero(found & (ranks <= k))) / n if n else 0.0
        exact = k <= d or bool(found.all())
        out[f"R@{k}"] = hit if exact else _lower_bound(hit)
    if n == 0:
        out.update(MedR=None, MeanR=None, nMR=None)
    else:
        zero_based = np.where(found, ranks - 1, np.inf).astype(np.float64)
        median = float(np.median(zero_based))
        if math.isfinite(median):
            med_r: int | str = math.floor(median) + 1
            out["MedR"] = med_r
            out["nMR"] = med_r / gallery_size
        else:
            out["MedR"] = f"> {d}"
            out["nMR"] = f"> {d / gallery_size:.4g}"
        mean = float(np.where(found, ranks, d + 1).mean())
        out["MeanR"] = mean if found.all() else _lower_bound(mean)
    out["queries"] = n
    out["missing_queries"] = int(missing_queries)
    return out


def rsum(t2v: dict[str, Any], v2t: dict[str, Any]) -> float | str:
    """Sum of the six recalls; a lower bound (string) when any recall is one."""
    values = [m[f"R@{k}"] for m in (t2v, v2t) for k in RECALL_KS]
    if all(isinstance(v, (int, float)) for v in values):
        return float(sum(values))
    total = sum(float(str(v).removeprefix(">= ")) for v in values)
    return _lower_bound(total)


def combine(t2v: dict[str, Any], v2t: dict[str, Any]) -> dict[str, Any]:
    """The scorer's `--json` document: `{"t2v": ..., "v2t": ..., "rsum": ...}`."""
    return {"t2v": t2v, "v2t": v2t, "rsum": rsum(t2v, v2t)}
