"""Paired significance between two experiments of a comparison, per seed and over seeds.

"K=3 beats K=1" should be a p-value, not a reading of overlapping standard deviations. Two
paired tests, in the spirit of ranx's `compare` (Bassani 2022), which reports a paired
Student's t-test over queries (here over pairs):

- **over pairs, per seed**: both runs of a seed rank the same queries; each query's share of
  rsum is `100 / N · ([r ≤ 1] + [r ≤ 5] + [r ≤ 10])` (r its first relevant rank, N the queries
  of its direction). A pair's text-to-video and video-to-text queries are one observation
  (their shares added; a video with several sentences adds all of theirs), not two
  independent ones, so the per-pair differences sum to the rsum difference. A two-sided
  paired t-test on them (`scipy.stats.ttest_rel`; Smucker, Allan & Carterette, CIKM 2007,
  find it agrees with randomisation tests on IR metrics) says whether that seed's gap is
  larger than query-to-query noise;
- **over seeds**: a two-sided paired t-test on the seeds' rsum (paired by seed: same data
  order), which also covers training noise — the test a claim about the method rests on.

The per-query ranks and each sentence's video come from each run's `query_ranks.json`
(written by `run_method`); runs recorded before they were there get the seed-level test only.
The per-pair shares and the t-test are `leaderboard.significance`'s, the ones the hosted
board's test against its leader uses.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.significance import format_p, pair_shares, paired_t_p

QUERY_RANKS = "query_ranks.json"


@dataclass
class PairedTest:
    """`a` against `b` on their common seeds; p-values are two-sided, None when undefined."""

    a: str
    b: str
    seeds: list[int]
    rsum_diff: list[float]  # per common seed, rsum(a) - rsum(b)
    p_seeds: float | None  # paired t-test over seeds on rsum (needs 2+ seeds)
    p_queries: list[float | None]  # per common seed, paired t-test over pairs

    @property
    def mean_diff(self) -> float:
        return float(np.mean(self.rsum_diff)) if self.rsum_diff else math.nan

    @property
    def wins(self) -> int:
        return sum(d > 0 for d in self.rsum_diff)

    def to_json(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "seeds": self.seeds,
            "rsum_diff": self.rsum_diff,
            "mean_rsum_diff": self.mean_diff,
            "p_seeds": self.p_seeds,
            "p_queries": self.p_queries,
        }


def pair_scores(run_dir: Path) -> np.ndarray | None:
    """Each test video's share of rsum, its two directions together
    (`leaderboard.significance.pair_shares`: the video's video-to-text share plus the
    text-to-video shares of its sentences), or None when the run recorded no ranks or no
    sentence-to-video map (records written before it).

    Returns:
        float64 `[N_videos]` in v2t query order; their sum is the run's rsum.
    """
    path = Path(run_dir) / QUERY_RANKS
    if not path.is_file():
        return None
    ranks = json.loads(path.read_text(encoding="utf-8"))
    t2v, v2t = ranks["t2v"], ranks["v2t"]
    if "videos" not in t2v:
        return None
    index = {video: i for i, video in enumerate(v2t["queries"])}
    return pair_shares(
        np.asarray(t2v["ranks"]), np.asarray(v2t["ranks"]), [index[v] for v in t2v["videos"]]
    )


def markdown_tests(tests: list[PairedTest], title: str = "Paired tests") -> str:
    """A Markdown table: Δrsum per row pair, seeds won, p over seeds, p over test pairs per seed."""
    lines = [
        f"**{title}** (two-sided paired t-tests: over seeds on rsum, the test a claim rests "
        "on; over pairs per seed, both directions of a pair as one observation)",
        "",
        "| A | B | seeds | Δrsum (A − B), mean | A wins | p (seeds) | p (pairs) per seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in tests:
        per_seed = ", ".join(
            f"s{s}: {format_p(p)}" for s, p in zip(t.seeds, t.p_queries, strict=True)
        )
        lines.append(
            f"| {t.a} | {t.b} | {len(t.seeds)} | {t.mean_diff:+.1f} | {t.wins}/{len(t.seeds)} "
            f"| {format_p(t.p_seeds)} | {per_seed} |"
        )
    return "\n".join(lines) + "\n"


__all__ = ["PairedTest", "format_p", "markdown_tests", "pair_scores", "paired_t_p"]
