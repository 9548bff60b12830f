"""The shared paired test: per-pair shares, the t-test, the bootstrap interval, a subset."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from leaderboard.metrics import ranks_to_metrics
from leaderboard.significance import bootstrap_ci, pair_shares, pair_test, query_shares


def test_query_shares_sum_to_the_directions_recalls() -> None:
    ranks = np.array([1, 3, 7, 12, 0, 5, 2, 40])
    metrics = ranks_to_metrics(ranks, gallery_size=50)
    total = sum(metrics.value(f"R@{k}") for k in (1, 5, 10))
    assert query_shares(ranks).sum() == pytest.approx(total)


def test_pair_test_is_a_paired_t_test_with_an_interval_around_the_difference() -> None:
    rng = np.random.default_rng(3)
    t2v_a, t2v_b = rng.integers(0, 15, 80), rng.integers(0, 30, 80)
    v2t_a, v2t_b = rng.integers(0, 15, 40), rng.integers(0, 30, 40)
    video = np.repeat(np.arange(40), 2)
    a, b = pair_shares(t2v_a, v2t_a, video), pair_shares(t2v_b, v2t_b, video)
    result = pair_test(a, b)
    assert result.pairs == 40 and result.rsum_diff == pytest.approx(a.sum() - b.sum())
    assert result.p == pytest.approx(stats.ttest_rel(a, b).pvalue)
    low, high = result.ci
    assert low < result.rsum_diff < high
    assert bootstrap_ci(a - b) == result.ci  # seeded: the same interval every time
    half = np.arange(20)
    part = pair_test(a, b, half)
    assert part.pairs == 20 and part.p == pytest.approx(stats.ttest_rel(a[:20], b[:20]).pvalue)


def test_an_interval_from_the_bootstrap_covers_a_known_mean() -> None:
    # 2000 differences of mean 0.1: the sum's 95% interval covers 200 and excludes 0.
    d = np.random.default_rng(0).normal(0.1, 1.0, 2000)
    low, high = bootstrap_ci(d)
    sd = d.std(ddof=1) * np.sqrt(d.size)
    assert low == pytest.approx(d.sum() - 1.96 * sd, abs=0.15 * sd)
    assert high == pytest.approx(d.sum() + 1.96 * sd, abs=0.15 * sd)
    assert bootstrap_ci(np.array([1.0])) is None
    with pytest.raises(ValueError, match="different shapes"):
        pair_test(np.zeros(3), np.zeros(4))
