"""The set-aware summary of runs with K > 1 in `mrw-bench compare`: a few numbers per row.

Each finished run's `metrics.json` holds its set-aware evaluation (`RunRecord.set_aware`,
written by `mrw.bench.setaware.summarise`). For the runs of one experiment (its seeds),
`summarise_set_aware` reduces it to mean ± sample std over seeds of, per side (video, text):

- `usage_entropy_pct`: the entropy of the head-win distribution as a percentage of the
  uniform one's, 100 · H / log K (100: every head wins equally often; 0: one head always
  wins);
- `top_head_share_pct`: the share of ground-truth pairs whose best-scoring head pair used
  the most-used head, in percent (100 / K when heads are used uniformly);
- `head_cosine`: the mean cosine between two heads of one instance, averaged over the
  K(K-1)/2 head pairs (1.0: the K embeddings are copies of one);

and, when K > 1 on both sides, `best_head_rsum`: the rsum with only one head kept on both
sides (the best head of each run), and `best_head_gap`: that minus the run's full rsum
(negative: the set of K embeddings beats any single one of them). A run without a set-aware
summary (older records) or with K = 1 gives no numbers; a group of seeds gives a number only
when every seed has it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from leaderboard.render import markdown_text

if TYPE_CHECKING:
    from mrw.bench.record import RunRecord


class MeanStd(Protocol):
    """A summary over seeds (`mrw.bench.compare.Stat`): its mean is what a table shows."""

    mean: float


SIDES = ("video", "text")
HEADER = (
    "K (v/t)",
    "Head use H/log K % (v/t)",
    "Top head % (v/t)",
    "Head cos (v/t)",
    "Best one head: rsum (Δ)",
)


def mean_head_cosine(matrix: list[list[float]] | None) -> float | None:
    """The mean over head pairs i < j of a `[K, K]` head-cosine matrix
    (`mrw.bench.setaware.head_cosine`); None for K = 1 or no matrix."""
    if matrix is None or len(matrix) < 2:
        return None
    pairs = list(itertools.combinations(range(len(matrix)), 2))
    return sum(matrix[i][j] for i, j in pairs) / len(pairs)


def _run_values(record: RunRecord) -> dict[str, Any] | None:
    """One run's numbers (see the module docstring); None when it has none (K = 1, older).

    Raises:
        RunRecordError: a `set_aware` entry without the shape `summarise` writes.
    """
    from mrw.bench.record import RunRecordError

    try:
        return _values(record)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        raise RunRecordError(
            f"{record.run_dir}: metrics.json: set_aware is not a set-aware summary ({exc!r})"
        ) from None


def _values(record: RunRecord) -> dict[str, Any] | None:
    summary = record.set_aware
    if summary is None or max(summary.k.values()) < 2:
        return None
    values: dict[str, Any] = {"k": dict(summary.k)}
    for side in SIDES:
        usage = summary.head_usage.get(side) or {}
        counts = usage.get("counts") or []
        ratio = usage.get("entropy_ratio")
        values[f"usage_entropy_pct.{side}"] = None if ratio is None else 100.0 * ratio
        total = sum(counts)
        values[f"top_head_share_pct.{side}"] = (
            100.0 * max(counts) / total if total and len(counts) > 1 else None
        )
        values[f"head_cosine.{side}"] = mean_head_cosine(summary.head_cosine.get(side))
    heads = summary.head_recall or []
    best = max((doc["rsum"] for doc in heads), default=None)
    values["best_head_rsum"] = best
    values["best_head_gap"] = None if best is None else best - float(record.metrics.rsum)
    return values


def summarise_set_aware(
    runs: Sequence[RunRecord], stat_of: Callable[[Sequence[float]], MeanStd]
) -> dict[str, Any] | None:
    """Mean ± std over `runs` (the seeds of one experiment) of the set-aware numbers, each
    summarised by `stat_of` (compare's `Stat.of`: mean and sample std over seeds).

    Returns:
        None when no run has K > 1; else `{"k": {"video": Kv, "text": Kt}, "usage_entropy_pct":
        {"video": stat | None, "text": ...}, "top_head_share_pct": {...}, "head_cosine":
        {...}, "best_head_rsum": stat | None, "best_head_gap": stat | None}` (percentages in
        0..100, cosines in -1..1, rsum in 0..600); a value is None unless every run has it.
    """
    per_run = [_run_values(run) for run in runs]
    if all(values is None for values in per_run):
        return None

    def stat(name: str) -> MeanStd | None:
        found = [v.get(name) if v else None for v in per_run]
        if any(x is None for x in found):
            return None
        return stat_of([float(x) for x in found])

    first = next(v for v in per_run if v is not None)
    out: dict[str, Any] = {"k": first["k"]}
    for name in ("usage_entropy_pct", "top_head_share_pct", "head_cosine"):
        out[name] = {side: stat(f"{name}.{side}") for side in SIDES}
    out["best_head_rsum"] = stat("best_head_rsum")
    out["best_head_gap"] = stat("best_head_gap")
    return out


def _pair(stats: Mapping[str, MeanStd | None], digits: int) -> str:
    """`video / text` means, `–` for a side without a value."""
    return " / ".join("–" if s is None else f"{s.mean:.{digits}f}" for s in stats.values())


def set_aware_cells(
    summaries: Sequence[Mapping[str, Any] | None],
) -> tuple[list[str], list[list[str]]] | None:
    """The extra columns of one compare table from its rows' `summarise_set_aware` results:
    (`HEADER`, one row of cells per row), or None when no row has K > 1 (the table then stays
    as it was). Cells hold means over seeds (the JSON has the standard deviations); a row
    with K = 1 gets dashes."""
    if all(s is None for s in summaries):
        return None
    rows = []
    for summary in summaries:
        if summary is None:
            rows.append(["–"] * len(HEADER))
            continue
        k = summary["k"]
        best, gap = summary["best_head_rsum"], summary["best_head_gap"]
        rows.append(
            [
                f"{k['video']} / {k['text']}",
                _pair(summary["usage_entropy_pct"], 0),
                _pair(summary["top_head_share_pct"], 0),
                _pair(summary["head_cosine"], 2),
                "–" if best is None or gap is None else f"{best.mean:.1f} ({gap.mean:+.1f})",
            ]
        )
    return list(HEADER), [[markdown_text(cell) for cell in row] for row in rows]
