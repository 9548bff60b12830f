"""The shared metrics function: hand-checked values, conventions of the VSE++/PVSE code."""

from __future__ import annotations

import numpy as np
import pytest

from leaderboard.metrics import NOT_FOUND, Bound, combine, ranks_to_metrics


def test_exact_ranks_hand_computed() -> None:
    ranks = np.array([1, 2, 6, 11])  # 0-based: 0, 1, 5, 10 -> median 3.0 -> MedR 4
    m = ranks_to_metrics(ranks, gallery_size=20)
    assert m.value("R@1") == pytest.approx(25.0)
    assert m.value("R@5") == pytest.approx(50.0)
    assert m.value("R@10") == pytest.approx(75.0)
    assert m.value("MedR") == 4
    assert m.value("MeanR") == pytest.approx(5.0)
    assert m.value("nMR") == pytest.approx(4 / 20)
    assert m.value("queries") == 4 and m.value("missing_queries") == 0


def test_medr_floor_of_half_integer_median() -> None:
    # 0-based ranks 0 and 1: median 0.5 -> floor 0 -> MedR 1 (VSE++ convention)
    assert ranks_to_metrics(np.array([1, 2]), gallery_size=5).medr == 1


def test_truncated_run_marks_unknowns() -> None:
    ranks = np.array([1, NOT_FOUND, NOT_FOUND, 3])
    m = ranks_to_metrics(ranks, gallery_size=100, depth=5)
    assert m.value("R@5") == pytest.approx(50.0)
    assert m.value("R@10") == Bound(50.0, ">=")
    assert m.medr == Bound(5, ">")  # only half found: median unknown
    assert isinstance(m.meanr, Bound) and m.meanr.kind == ">="
    found_most = ranks_to_metrics(np.array([1, 2, NOT_FOUND]), gallery_size=100, depth=5)
    assert found_most.medr == 2


def test_rsum_sums_six_recalls() -> None:
    t2v = ranks_to_metrics(np.array([1, 20]), gallery_size=30)
    v2t = ranks_to_metrics(np.array([5, 7]), gallery_size=30)
    assert combine(t2v, v2t).rsum == pytest.approx(50 + 50 + 50 + 0 + 50 + 100)
