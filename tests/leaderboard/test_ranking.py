"""Borda count and mean rank across tables, missing cells kept missing (MTEB's rule)."""

from __future__ import annotations

import pytest

from leaderboard.ranking import average_ranks, borda


def test_ties_share_the_average_rank() -> None:
    assert average_ranks({"a": 3.0, "b": 5.0, "c": 3.0, "d": 1.0}) == {
        "b": 1.0, "a": 2.5, "c": 2.5, "d": 4.0,
    }  # fmt: skip


def test_borda_with_a_missing_cell_counts_no_points_and_no_mean_rank() -> None:
    # Table 1: a > b > c; table 2: c > a, b missing. n = 3 teams in the cross-table.
    rows = {r.team: r for r in borda([{"a": 90.0, "b": 80.0, "c": 70.0}, {"a": 50.0, "c": 60.0}])}
    assert rows["a"].ranks == (1.0, 2.0) and rows["b"].ranks == (2.0, None)
    assert rows["a"].borda_points == (3 - 1) + (3 - 2)  # 3
    assert rows["b"].borda_points == (
        3 - 2
    )  # 1: the missing table gives nothing, not a zero score's rank
    assert rows["c"].borda_points == (3 - 3) + (3 - 1)  # 2
    assert [r.team for r in borda([{"a": 90.0, "b": 80.0, "c": 70.0}, {"a": 50.0, "c": 60.0}])] == [
        "a", "c", "b",
    ]  # fmt: skip
    assert (rows["a"].borda_rank, rows["c"].borda_rank, rows["b"].borda_rank) == (1, 2, 3)
    assert rows["a"].mean_rank == pytest.approx(1.5)
    assert rows["b"].mean_rank is None and rows["c"].mean_rank == pytest.approx(2.0)


def test_equal_points_share_the_smallest_borda_rank() -> None:
    rows = borda([{"a": 2.0, "b": 1.0}, {"a": 1.0, "b": 2.0}])
    assert [r.borda_rank for r in rows] == [1, 1] and rows[0].borda_points == 1.0


def test_missing_differs_from_a_zero_score() -> None:
    with_zero = {r.team: r for r in borda([{"a": 1.0, "b": 2.0}, {"a": 1.0, "b": 0.0}])}
    missing = {r.team: r for r in borda([{"a": 1.0, "b": 2.0}, {"a": 1.0}])}
    assert with_zero["b"].borda_points == 1.0 and with_zero["b"].ranks == (1.0, 2.0)
    assert missing["b"].borda_points == 1.0 and missing["b"].ranks == (1.0, None)
    assert with_zero["b"].mean_rank == 1.5 and missing["b"].mean_rank is None
