"""Score one stored submission with the scorer of `mrw-leaderboard score` (no copy of it).

Public splits also get per-query details (the rank of each query's first relevant document);
hidden splits get the metrics only, and only for a run that ranks every query to the same depth
(`hidden_split_refusal`). In a board's test phase the hidden split is also scored on its public
and private parts (`leaderboard.server.phases.private_mask`), from the same per-query ranks.
Failure reasons are the scorer's one-line messages, with server paths (the upload folder, the
truth folder) replaced by neutral names.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.errors import FileLineError, LeaderboardError
from leaderboard.metrics import NOT_FOUND, DirectionMetrics, Metrics, combine, ranks_to_metrics
from leaderboard.parse import Run, parse_run
from leaderboard.qrels import Qrels
from leaderboard.score import (
    DIRECTIONS,
    Ranking,
    first_relevant_ranks,
    ranking_fingerprint,
    ranking_metrics,
)
from leaderboard.server import query_ranks
from leaderboard.server.truth import Split


@dataclass(frozen=True)
class Outcome:
    """`metrics` (typed; `.to_json()` is the scorer's `--json` document), `details` and
    `rankings_sha256` (both directions' `ranking_fingerprint`s, hashed together), or
    `reason` on failure; with a private split, also the metrics of its public and private
    parts; `query_ranks` is the per-query ranks kept server-side for the board's paired tests
    (`query_ranks.pack`, every split)."""

    metrics: Metrics | None = None
    details: dict[str, Any] | None = None
    reason: str | None = None
    rankings_sha256: str | None = None
    query_ranks: bytes | None = None
    public_metrics: Metrics | None = None
    private_metrics: Metrics | None = None


def _reason(direction: str, error: LeaderboardError, split: Split) -> str:
    if isinstance(error, FileLineError):
        where = f"line {error.line}: " if error.line > 0 else ""
        text = f"{direction}: {where}{error.reason}"
    else:
        text = f"{direction}: {error}"
    for qrels in split.qrels.values():
        text = text.replace(qrels.path, "the ground truth")
    return text


def hidden_split_refusal(run: Run, qrels: Qrels) -> str | None:
    """Why a run may not be scored on a hidden split, or None: it must rank every query of
    the split, each to the same depth.

    A query's censored contribution to the metrics (a miss counted at depth + 1 in MeanR's
    bound, exact recalls up to the run's depth) isolates that query when the others are
    absent or ranked to another depth: a run ranking every document for one query and nothing
    else gets a MeanR bound from which that query's relevant document is read exactly. With
    every query ranked to one depth, each metric is a sum over all queries of unknown terms,
    so no single query's relevant document follows from one submission (docs/leaderboard.md,
    "Partial runs on hidden splits"). Both conditions depend on the run and the split's
    public query ids only, so a refusal tells nothing about the truth either.

    Args:
        run: a parsed run of one direction.
        qrels: that direction's ground truth.

    Returns:
        The one-line reason (without the direction), or None when the run may be scored.
    """
    lines = np.bincount(run.query, minlength=len(qrels.query_ids))
    scored = lines[qrels.scored_queries]
    missing = int(np.count_nonzero(scored == 0))
    if missing:
        return (
            f"a hidden split is scored only for a run that ranks every query; {missing} of "
            f"{scored.size} queries are missing"
        )
    shortest, deepest = int(scored.min()), int(lines.max())
    if shortest != deepest:
        return (
            "a hidden split is scored only for a run that ranks the same number of documents "
            f"for every query; this one ranks {shortest} to {deepest}"
        )
    return None


def _part_metrics(ranking: Ranking, qrels: Qrels, keep: np.ndarray) -> DirectionMetrics:
    """Metrics over the scored queries where `keep` is True (a hidden split's run ranks every
    query to one depth, so the part has the run's depth and no missing query)."""
    return ranks_to_metrics(ranking.ranks[keep], qrels.gallery_size, depth=ranking.depth)


def score_stored(
    folder: str | os.PathLike[str],
    split: Split,
    max_bytes: int,
    private: dict[str, np.ndarray] | None = None,
) -> Outcome:
    """Validate and score `folder/t2v.run` and `folder/v2t.run` against `split`.

    Args:
        folder: the submission's storage folder (named by the server, never by a request).
        split: the ground truth to score against.
        max_bytes: uncompressed size limit per file, checked while decompressing.
        private: for a hidden split with a private part, per direction a bool mask over
            `qrels.scored_queries` (True: private; `leaderboard.server.phases.private_mask`).
            The per-query ranks are computed once; each part's metrics come from them.

    Returns:
        An `Outcome`: metrics (+ details for a public split; + public and private parts'
        metrics when `private` is given), the rankings' fingerprint and the per-query
        ranks, or the one-line failure reason.

    Raises:
        ValueError: `private` given for a public split.
    """
    if private is not None and split.public:
        raise ValueError("a private part is only kept on a hidden split")
    results, details, rankings, ranks = {}, {}, hashlib.sha256(), {}
    parts: dict[str, dict[str, DirectionMetrics]] = {"public": {}, "private": {}}
    for direction in DIRECTIONS:
        qrels = split.qrels[direction]
        try:
            run = parse_run(Path(folder) / f"{direction}.run", qrels, max_bytes)
        except LeaderboardError as error:
            return Outcome(reason=_reason(direction, error, split))
        refusal = None if split.public else hidden_split_refusal(run, qrels)
        if refusal is not None:
            return Outcome(reason=f"{direction}: {refusal}")
        ranking = first_relevant_ranks(run, qrels)
        ranks[direction] = ranking.ranks
        rankings.update(ranking_fingerprint(run, qrels))
        del run
        results[direction] = ranking_metrics(ranking, qrels)
        if private is not None:
            parts["public"][direction] = _part_metrics(ranking, qrels, ~private[direction])
            parts["private"][direction] = _part_metrics(ranking, qrels, private[direction])
        if split.public:
            ids = [qrels.query_ids[i] for i in qrels.scored_queries]
            details[direction] = {
                "first_relevant_rank": {
                    qid: (None if int(rank) == NOT_FOUND else int(rank))
                    for qid, rank in zip(ids, ranking.ranks, strict=True)
                }
            }
    return Outcome(
        metrics=combine(results["t2v"], results["v2t"]),
        details=details or None,
        rankings_sha256=rankings.hexdigest(),
        query_ranks=query_ranks.pack(
            ranks["t2v"], ranks["v2t"], query_ranks.pair_map(split.qrels["t2v"], split.qrels["v2t"])
        ),
        public_metrics=combine(**parts["public"]) if private is not None else None,
        private_metrics=combine(**parts["private"]) if private is not None else None,
    )
