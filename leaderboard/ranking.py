"""Ranking teams across tables: Borda count and mean rank, with missing cells kept missing.

Each table (a dataset under one protocol card) votes like one task of MTEB's leaderboard
(Muennighoff et al., EACL 2023; `mteb/benchmarks/_create_table.py`, `_borda_rank_from_long`):
within a table, teams are ranked by their score (ties share the average rank, higher
better); a team earns `n − rank` points from a table it appears in, n being the number of
teams in the whole cross-table; a table a team is missing from gives it no points (MTEB: "missing
tasks contribute 0"). The Borda rank orders teams by total points (ties share the smallest
rank, MTEB's `method="min"`). The mean rank is the mean of a team's per-table ranks and,
like MTEB's `Mean (Task)`, is undefined (None) when any of its cells is missing: a team
present only where it did well would otherwise look better than one that ran everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class CrossRank:
    """One team's row: its per-table ranks (None = missing), Borda points and ranks."""

    team: str
    ranks: tuple[float | None, ...]
    borda_points: float
    borda_rank: int
    mean_rank: float | None


def average_ranks(scores: Mapping[str, float]) -> dict[str, float]:
    """1-based ranks of `scores`, higher better; ties share the mean of their positions.

    Args:
        scores: team -> score (finite floats).

    Returns:
        team -> rank (a float: 1.5 for two teams tied first).
    """
    ordered = sorted(scores.items(), key=lambda item: -item[1])
    ranks: dict[str, float] = {}
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1][1] == ordered[start][1]:
            end += 1
        for team, _ in ordered[start : end + 1]:
            ranks[team] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def borda(tables: Sequence[Mapping[str, float]]) -> list[CrossRank]:
    """Borda count and mean rank of the teams of `tables`, best Borda rank first.

    Args:
        tables: per table, team -> score (higher better; a team absent from a table is a
            missing cell, never a zero).

    Returns:
        One `CrossRank` per team that appears in any table, sorted by Borda rank, then mean
        rank (missing last), then team name.
    """
    teams = sorted({team for table in tables for team in table})
    n = len(teams)
    per_table = [average_ranks(table) for table in tables]
    points = {team: sum(n - ranks[team] for ranks in per_table if team in ranks) for team in teams}
    rows = []
    for team in teams:
        cells = tuple(ranks.get(team) for ranks in per_table)
        better = sum(other > points[team] for other in points.values())
        mean = None if any(c is None for c in cells) else sum(cells) / len(cells)
        rows.append(CrossRank(team, cells, points[team], better + 1, mean))
    return sorted(
        rows,
        key=lambda r: (r.borda_rank, r.mean_rank is None, r.mean_rank or 0.0, r.team),
    )
