"""Paired significance on per-query ranks: the one test `mrw-bench compare` and the hosted
board both use.

Each observation is a pair's share of rsum. A query's share is
`100 / N · ([r ≤ 1] + [r ≤ 5] + [r ≤ 10])` (r its 1-based first relevant rank, 0 when none was
found; N the scored queries of its direction), so the shares of a direction sum to its
R@1 + R@5 + R@10. A pair's text-to-video and video-to-text queries are one observation (their
shares added; a video with several sentences adds all of theirs), not two independent ones,
so the per-pair differences of two runs sum to their rsum difference.

- `paired_t_p`: two-sided paired t-test on those differences (Student 1908,
  `scipy.stats.ttest_1samp` against zero, as ranx's `compare` reports over queries, Bassani
  2022; Smucker, Allan & Carterette, CIKM 2007, find it agrees with randomisation tests on IR
  metrics);
- `bootstrap_ci`: the percentile bootstrap confidence interval (Efron & Tibshirani 1993,
  ch. 13) of the rsum difference, resampling pairs with replacement, seeded so a board shows
  the same interval on every request.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from leaderboard.metrics import RECALL_KS

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_LEVEL = 0.95
BOOTSTRAP_SEED = 0


def query_shares(ranks: np.ndarray) -> np.ndarray:
    """Each query's share of its direction's R@1 + R@5 + R@10, in percent points.

    Args:
        ranks: int `[N]` 1-based first relevant ranks, 0 (`leaderboard.metrics.NOT_FOUND`)
            for a query whose relevant documents were not ranked.

    Returns:
        float64 `[N]`; its sum is the direction's R@1 + R@5 + R@10 (percent).
    """
    r = np.asarray(ranks, dtype=np.int64)
    hits = sum(((r >= 1) & (r <= k)).astype(np.float64) for k in RECALL_KS)
    return 100.0 * hits / max(len(r), 1)


def pair_shares(t2v_ranks: np.ndarray, v2t_ranks: np.ndarray, t2v_video: np.ndarray) -> np.ndarray:
    """Each video's share of rsum: its video-to-text share plus the text-to-video shares of
    its sentences (one observation per pair on a one-sentence-per-video set).

    Args:
        t2v_ranks: int `[Nt]` first relevant ranks of the sentence queries.
        v2t_ranks: int `[Nv]` first relevant ranks of the video queries.
        t2v_video: int `[Nt]` each sentence's video, as an index into `v2t_ranks`.

    Returns:
        float64 `[Nv]` in video-query order; their sum is rsum.
    """
    out = query_shares(v2t_ranks)
    np.add.at(out, np.asarray(t2v_video, dtype=np.int64), query_shares(t2v_ranks))
    return out


def paired_t_p(differences: np.ndarray) -> float | None:
    """Two-sided p of a paired t-test on `differences` (Student 1908; `scipy.stats.ttest_rel`
    against zero). 1.0 when every difference is 0, 0.0 for a constant non-zero difference,
    None with fewer than 2 values."""
    from scipy import stats

    differences = np.asarray(differences, dtype=np.float64)
    if differences.size < 2:
        return None
    if not differences.any():
        return 1.0
    if np.all(differences == differences[0]):
        return 0.0  # a constant, non-zero difference: no variance, certainly not noise
    return float(stats.ttest_1samp(differences, 0.0).pvalue)


def bootstrap_ci(
    differences: np.ndarray,
    level: float = BOOTSTRAP_LEVEL,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple[float, float] | None:
    """Percentile bootstrap interval of `differences.sum()` (Efron & Tibshirani 1993, ch. 13).

    Args:
        differences: float `[N]` per-pair differences (their sum is the rsum difference).
        level: coverage, e.g. 0.95 for a 95% interval.
        resamples: bootstrap resamples (pairs drawn with replacement, N per resample).
        seed: the generator's seed (the interval is reproducible).

    Returns:
        (low, high) in rsum points, or None with fewer than 2 values.
    """
    d = np.asarray(differences, dtype=np.float64)
    if d.size < 2:
        return None
    rng = np.random.default_rng(seed)
    sums = np.empty(resamples)
    chunk = max(1, (1 << 22) // d.size)  # about 16 MiB of indices at a time
    for start in range(0, resamples, chunk):
        count = min(chunk, resamples - start)
        draws = rng.integers(0, d.size, (count, d.size), dtype=np.int32)  # 3x int64's speed
        sums[start : start + count] = d[draws].sum(axis=1)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(sums, [tail, 100 - tail])
    return float(low), float(high)


@dataclass(frozen=True)
class PairTest:
    """One run against another on the same pairs: Δrsum (a − b), its paired t-test p and
    bootstrap interval, over `pairs` observations."""

    rsum_diff: float
    p: float | None
    ci: tuple[float, float] | None
    pairs: int

    def to_json(self) -> dict[str, Any]:
        """`{"rsum_diff", "p", "ci_low", "ci_high", "ci_level", "pairs"}` (nulls when undefined)."""
        low, high = self.ci if self.ci is not None else (None, None)
        return {
            "rsum_diff": self.rsum_diff,
            "p": self.p,
            "ci_low": low,
            "ci_high": high,
            "ci_level": BOOTSTRAP_LEVEL,
            "pairs": self.pairs,
        }


def pair_test(a: np.ndarray, b: np.ndarray, subset: np.ndarray | None = None) -> PairTest:
    """Test run `a` against run `b` from their per-pair shares (`pair_shares`).

    Args:
        a, b: float `[N]` per-pair shares of the two runs, aligned (same pair order).
        subset: optional int indices (or bool mask) of the pairs to test on, e.g. the public
            part of a split during a test phase; None: every pair.

    Returns:
        A `PairTest`.

    Raises:
        ValueError: `a` and `b` have different shapes.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"pair shares of different shapes: {a.shape} vs {b.shape}")
    d = a - b if subset is None else (a - b)[subset]
    return PairTest(float(d.sum()), paired_t_p(d), bootstrap_ci(d), int(d.size))


def format_p(value: float | None) -> str:
    """A p-value for tables: 2 significant digits, "<1e-4" below that, "–" when undefined."""
    if value is None:
        return "–"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"
