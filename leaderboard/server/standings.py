"""The hosted board's standings: one table per (dataset, protocol card), the test of every row
against its table's leader, and the ranking of teams across tables.

- Tables: scored submissions grouped by dataset, board (the split, or a test phase's
  `test (public)`/`test (private)`: `leaderboard.server.phases.board_variants`) and protocol
  card (`card_hash`; a row without a declared card gets the one derived from its truth,
  `declared.protocol_card`), so results of different cards are never ranked together. Rows
  are ordered by rsum (a bound at its pessimistic end); a host's baseline is shown in place,
  with a badge and no rank, and is never the leader nor counted for a column's best value.
- The leader is the table's first ranked row. Every other row is tested against it on the
  per-query ranks kept server-side (`query_ranks`): the paired t-test and percentile bootstrap
  interval of `leaderboard.significance`, the test `mrw-bench compare` reports over pairs.
  On a test phase's public or private board the test uses only that part's queries (each
  query one observation, `phases.test_masks`), so it says nothing about the other part; results
  are cached by the two rankings' fingerprints and the part.
- Across tables (per board label, when it has two or more tables): each team's best rsum per
  table, Borda count and mean rank (`leaderboard.ranking.borda`); a missing cell is shown
  as missing, never as zero. Baselines are not teams and are not in it.
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import numpy as np

from leaderboard.board import Submission as Record
from leaderboard.metrics import best_indices, pessimistic_key
from leaderboard.ranking import CrossRank, borda
from leaderboard.render import COLUMNS, Column, Table
from leaderboard.server import phases, query_ranks
from leaderboard.server.db import Database
from leaderboard.server.declared import UNDECLARED_TRAINING, protocol_card
from leaderboard.server.models import Submission
from leaderboard.server.phases import PRIVATE_LABEL
from leaderboard.server.store import as_record
from leaderboard.server.truth import Truth
from leaderboard.significance import PairTest, format_p, pair_test, query_shares
from mrw.core.protocol import ProtocolCard
from mrw.core.untrusted import strip_control

MISSING = "—"
PrivateMasks = dict[str, np.ndarray]  # per direction, True: a private query (`phases`)


@dataclass(frozen=True)
class Row(Record):
    """A scored submission with its board columns (`leader_test`: against its table's
    leader; None for the leader itself and where no test can be made)."""

    baseline: bool = False
    training_data: str = ""
    code_url: str | None = None
    code_commit: str | None = None
    checkpoint_sha256: str | None = None
    leader_test: PairTest | None = None
    is_leader: bool = False


@dataclass(frozen=True)
class Loaded:
    """A row as read from the database, with what only the server sees."""

    row: Row
    card: ProtocolCard
    declared_card: bool
    rankings_sha256: str | None
    ranks: bytes | None
    part: str | None = None  # a test phase's `public`/`private` board; None: all queries


@dataclass(frozen=True)
class CrossTable:
    """Teams across the (dataset, card) tables of one split: each team's best rsum per table
    (None: missing) and its `CrossRank`."""

    split: str
    tables: list[tuple[str, ProtocolCard]]
    rows: list[tuple[CrossRank, list[float | None]]]


@dataclass(frozen=True)
class Standings:
    """Everything the board shows: the per-card tables (with their cards) and the cross-tables."""

    tables: list[tuple[Table, ProtocolCard, bool]]
    cross: list[CrossTable]


def load(
    db: Database, truth: Truth, dataset: str | None = None, split: str | None = None
) -> list[Loaded]:
    """Every scored submission (optionally of one dataset and split) on each board it appears
    on now (`phases.board_variants`), oldest first."""
    rows, revealed = phases.scored_rows(db, dataset, split)
    return [
        _loaded(row, record, part)
        for row, team in rows
        for record, part in phases.board_variants(row, team, truth, revealed)
    ]


def _loaded(row: Submission, record: Record, part: str | None = None) -> Loaded:
    if row.protocol_json is not None:
        card, declared = ProtocolCard.from_json(json.loads(row.protocol_json)), True
    else:
        card, declared = protocol_card("", record.dataset, row.split or "", row.truth_sha256)
    board_row = Row(
        **{f.name: getattr(record, f.name) for f in dataclasses.fields(Record)},
        baseline=bool(row.is_baseline),
        training_data=row.training_data or "",
        code_url=row.code_url,
        code_commit=row.code_commit,
        checkpoint_sha256=row.checkpoint_sha256,
    )
    return Loaded(board_row, card, declared, row.rankings_sha256, row.query_ranks, part)


def declared_facts(row: Submission) -> list[tuple[str, str]]:
    """What a submission declares, as (label, text) lines for its page: baseline or team,
    training data, code URL and commit, checkpoint SHA-256, protocol card."""
    loaded = _loaded(row, as_record(row, ""))
    card = loaded.card.summary() + ("" if loaded.declared_card else " (derived from the truth)")
    return [
        ("Kind", "host baseline (not ranked)" if row.is_baseline else "team submission"),
        ("Training data", row.training_data or UNDECLARED_TRAINING),
        ("Code", " @ ".join(x for x in (row.code_url, row.code_commit) if x) or MISSING),
        ("Checkpoint SHA-256", row.checkpoint_sha256 or MISSING),
        ("Protocol card", card),
    ]


_CACHE: OrderedDict[tuple, PairTest] = OrderedDict()
_CACHE_LOCK = threading.Lock()
CACHE_SIZE = 4096


def _observations(loaded: Loaded, masks: PrivateMasks | None) -> np.ndarray:
    """The paired test's observations of a row: per-pair shares of rsum (`query_ranks.shares`)
    on a board of all queries; on a public or private board, each of that part's queries is
    one observation (`query_shares` within the part, so they sum to the part's rsum)."""
    assert loaded.ranks is not None
    if loaded.part is None or masks is None:
        return query_ranks.shares(loaded.ranks)
    ranks = query_ranks.unpack(loaded.ranks)
    private = loaded.part == PRIVATE_LABEL
    return np.concatenate(
        [query_shares(ranks[d][masks[d] if private else ~masks[d]]) for d in ("t2v", "v2t")]
    )


def _test(a: Loaded, leader: Loaded, masks: PrivateMasks | None) -> PairTest | None:
    """`a` against the leader (cached by both rankings' fingerprints and the board part), or
    None when either has no stored per-query ranks or they cover different queries."""
    if a.ranks is None or leader.ranks is None:
        return None
    key = (a.rankings_sha256, leader.rankings_sha256, a.part)
    with _CACHE_LOCK:
        if key in _CACHE and a.rankings_sha256 is not None:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    shares_a, shares_b = _observations(a, masks), _observations(leader, masks)
    if shares_a.shape != shares_b.shape:
        return None
    result = pair_test(shares_a, shares_b)
    with _CACHE_LOCK:
        _CACHE[key] = result
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return result


def _rsum_key(row: Record) -> float:
    value = pessimistic_key(row.metrics.rsum, "max")
    return -math.inf if math.isnan(value) else value


def _escape(text: str) -> str:
    return html.escape(strip_control(text))


def _artefacts_html(row: Row) -> str:
    parts = []
    if row.code_url:
        commit = f" @{row.code_commit[:10]}" if row.code_commit else ""
        parts.append(
            f'<a href="{_escape(row.code_url)}" rel="nofollow noopener noreferrer">code</a>'
            f"{_escape(commit)}"
        )
    elif row.code_commit:
        parts.append(f"commit {_escape(row.code_commit[:10])}")
    if row.checkpoint_sha256:
        parts.append(
            f'<span title="checkpoint SHA-256 {_escape(row.checkpoint_sha256)}">'
            f"ckpt {_escape(row.checkpoint_sha256[:10])}</span>"
        )
    return " · ".join(parts) or MISSING


def _artefacts_text(row: Row) -> str:
    return " ".join(x for x in (row.code_url, row.code_commit, row.checkpoint_sha256) if x)


def _leader_cell(row: Row) -> str:
    if row.is_leader:
        return "leader"
    test = row.leader_test
    if test is None:
        return MISSING
    interval = f" [{test.ci[0]:+.1f}, {test.ci[1]:+.1f}]" if test.ci else ""
    return f"{test.rsum_diff:+.1f}{interval}"


def _p_cell(row: Row) -> str:
    if row.leader_test is None:
        return MISSING
    return format_p(row.leader_test.p)


EXTRA_COLUMNS: tuple[Column, ...] = (
    Column(
        "Training data",
        "",
        lambda r: r.training_data or UNDECLARED_TRAINING,
        title="what the method was trained or pretrained on, as declared; web-scale "
        "pretraining may overlap the test media",
    ),
    Column(
        "Artefacts",
        "",
        _artefacts_text,
        html=_artefacts_html,
        title="code (URL and commit) and checkpoint SHA-256, as declared",
    ),
    Column(
        "Δrsum vs leader [95% CI]",
        "",
        _leader_cell,
        title="rsum of this row minus the leader's, with a percentile bootstrap interval "
        "over test pairs",
    ),
    Column(
        "p vs leader",
        "",
        _p_cell,
        title="two-sided paired t-test over test pairs against the leader (as mrw-bench "
        "compare computes it)",
    ),
)
BOARD_COLUMNS: tuple[Column, ...] = (*COLUMNS[:-1], *EXTRA_COLUMNS, COLUMNS[-1])


def _table(
    key: tuple[str, str, str], members: list[Loaded], masks: PrivateMasks | None
) -> tuple[Table, ProtocolCard, bool]:
    members = sorted(members, key=lambda m: (-_rsum_key(m.row), m.row.id))
    ranked = [i for i, m in enumerate(members) if not m.row.baseline]
    leader = members[ranked[0]] if ranked else None
    rows = []
    for member in members:
        is_leader = leader is not None and member is leader
        test = None if leader is None or is_leader else _test(member, leader, masks)
        rows.append(dataclasses.replace(member.row, leader_test=test, is_leader=is_leader))
    ranks: list[int | None] = [None] * len(rows)
    for rank, position in enumerate(ranked, start=1):
        ranks[position] = rank
    best = {
        index: {ranked[j] for j in best_indices([column.get(rows[p]) for p in ranked], better)}
        for index, column in enumerate(BOARD_COLUMNS)
        if (better := column.better) and ranked
    }
    card, declared = members[0].card, members[0].declared_card
    note = "" if declared else " · card derived from the truth (undeclared)"
    table = Table(key[0], key[1], rows, best, BOARD_COLUMNS, ranks, card=card, caption_note=note)
    return table, card, declared


def build(loaded: list[Loaded], masks: PrivateMasks | None = None) -> Standings:
    """Group, rank and test `loaded` rows (see the module docstring).

    Args:
        loaded: rows from `load`.
        masks: the test split's private masks (`phases.test_masks`), for the tests on its
            public and private boards; None: no private split.
    """
    groups: dict[tuple[str, str, str], list[Loaded]] = {}
    for item in loaded:
        groups.setdefault((item.row.dataset, item.row.split, item.card.card_hash), []).append(item)
    tables = [_table(key, members, masks) for key, members in sorted(groups.items())]
    return Standings(tables, _cross(tables))


def current(
    db: Database, truth: Truth, dataset: str | None = None, split: str | None = None
) -> Standings:
    """The standings anyone may see now (optionally of one dataset and split)."""
    return build(load(db, truth, dataset, split), phases.test_masks(db, truth))


def warm(db: Database, truth: Truth) -> None:
    """Compute (and cache) the leader tests of the board's tables, so the next request for the
    board finds them: the scoring worker calls it after each scored submission."""
    current(db, truth, truth.dataset)


def _cross(tables: list[tuple[Table, ProtocolCard, bool]]) -> list[CrossTable]:
    by_split: dict[str, list[tuple[Table, ProtocolCard, bool]]] = {}
    for entry in tables:
        by_split.setdefault(entry[0].split, []).append(entry)
    out = []
    for split, entries in sorted(by_split.items()):
        if len(entries) < 2:
            continue
        best: list[dict[str, float]] = []
        for table, _, _ in entries:
            scores: dict[str, float] = {}
            for row in table.rows:
                value = _rsum_key(row)
                if row.baseline or not math.isfinite(value):
                    continue
                scores[row.team] = max(scores.get(row.team, -math.inf), value)
            best.append(scores)
        ranking = borda(best)
        if not ranking:
            continue
        rows = [(r, [scores.get(r.team) for scores in best]) for r in ranking]
        out.append(CrossTable(split, [(t.dataset, card) for t, card, _ in entries], rows))
    return out


def _row_json(row: Row, rank: int | None) -> dict[str, Any]:
    data = {f.name: getattr(row, f.name) for f in dataclasses.fields(Record) if f.name != "metrics"}
    return {
        "rank": rank,
        "baseline": row.baseline,
        **data,
        "metrics": row.metrics.to_json(),
        "training_data": row.training_data or None,
        "code_url": row.code_url,
        "code_commit": row.code_commit,
        "checkpoint_sha256": row.checkpoint_sha256,
        "leader": row.is_leader,
        "leader_test": None if row.leader_test is None else row.leader_test.to_json(),
    }


def to_json(standings: Standings, generated: str) -> dict[str, Any]:
    """The `GET /api/board` document.

    `boards`: per (dataset, card), `dataset`, `split`, `card` (`ProtocolCard.to_json()`),
    `card_hash`, `card_declared`, `leader` (submission id or null) and `submissions`, each
    with `rank` (null for a baseline), `baseline`, the record's fields, `metrics`,
    `training_data`, `code_url`, `code_commit`, `checkpoint_sha256`, `leader` and
    `leader_test` (`PairTest.to_json()`: `rsum_diff`, `p`, `ci_low`, `ci_high`, `ci_level`,
    `pairs`; null for the leader and where no test can be made). `cross_dataset`: per
    split with two or more tables, the `tables` (dataset, card hash) and `teams` with
    per-table `rsum` and `rank` (null: missing), `borda_points`, `borda_rank`, `mean_rank`.
    """
    boards = []
    for table, card, declared in standings.tables:
        leader = next((r.id for r in table.rows if r.is_leader), None)
        boards.append(
            {
                "dataset": table.dataset,
                "split": table.split,
                "card": card.to_json(),
                "card_hash": card.card_hash,
                "card_declared": declared,
                "leader": leader,
                "submissions": [_row_json(row, table.rank(i)) for i, row in enumerate(table.rows)],
            }
        )
    cross = [
        {
            "split": c.split,
            "tables": [{"dataset": d, "card_hash": card.card_hash} for d, card in c.tables],
            "teams": [
                {
                    "team": rank.team,
                    "cells": [
                        {"rsum": value, "rank": cell}
                        for value, cell in zip(values, rank.ranks, strict=True)
                    ],
                    "borda_points": rank.borda_points,
                    "borda_rank": rank.borda_rank,
                    "mean_rank": rank.mean_rank,
                }
                for rank, values in c.rows
            ],
        }
        for c in standings.cross
    ]
    return {"generated_utc": generated, "boards": boards, "cross_dataset": cross}


def cross_html(cross: CrossTable) -> str:
    """One cross-dataset table as escaped HTML: a column per (dataset, card) with each team's
    best rsum and its rank there ("—" when missing), then Borda points, Borda rank and mean
    rank."""
    e = _escape
    heads = "".join(
        f'<th class="num" title="{e(card.summary())}">{e(dataset)}<br>'
        f'<span class="split">card {e(card.card_id)}</span></th>'
        for dataset, card in cross.tables
    )
    body = []
    for rank, values in cross.rows:
        cells = []
        for value, cell in zip(values, rank.ranks, strict=True):
            if value is None:
                cells.append(f'<td class="num missing">{MISSING}</td>')
            else:
                cells.append(f'<td class="num">{value:.1f} <small>(#{cell:g})</small></td>')
        mean = MISSING if rank.mean_rank is None else f"{rank.mean_rank:.2f}"
        body.append(
            f"<tr><td>{rank.borda_rank}</td><td>{e(rank.team)}</td>{''.join(cells)}"
            f'<td class="num">{rank.borda_points:g}</td><td class="num">{mean}</td></tr>'
        )
    return (
        f'<section class="cross"><h2>Across datasets <span class="split">{e(cross.split)}'
        "</span></h2>"
        '<p class="card">Each team\'s best rsum per (dataset, protocol card) table and its rank '
        "there; Borda count as MTEB computes it (n − rank points per table, none for a "
        "missing cell); mean rank only for teams present in every table; — is missing, "
        "never zero. Baselines are not ranked.</p>"
        '<table class="crosstab"><thead><tr><th>Borda rank</th><th>Team</th>'
        f'{heads}<th class="num">Borda points</th><th class="num">mean rank</th></tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></section>"
    )


__all__ = ["BOARD_COLUMNS", "CrossTable", "Loaded", "Row", "Standings", "build", "load", "to_json"]
