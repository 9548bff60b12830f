"""Score validated runs: first-relevant ranks in trec_eval's order, then the shared metrics.

Ranks are counted, not sorted: for each query the best-placed relevant document is found
among the (few) relevant lines, and its rank is one plus the number of lines that trec_eval
would place before it (higher score, or equal score and larger document id). That is one
vectorised pass over the run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.errors import LeaderboardError
from leaderboard.metrics import NOT_FOUND, combine, ranks_to_metrics
from leaderboard.parse import DEFAULT_MAX_BYTES, Run, first_line, parse_run
from leaderboard.qrels import Qrels, read_qrels

DIRECTIONS = ("t2v", "v2t")


@dataclass(frozen=True)
class Ranking:
    """Per scored query (in `qrels.scored_queries` order): rank of the first relevant document
    (`NOT_FOUND` when none is in the run), with the run's depth and its missing queries."""

    ranks: np.ndarray
    depth: int
    missing_queries: int


def first_relevant_ranks(run: Run, qrels: Qrels) -> Ranking:
    n_queries, gallery = len(qrels.query_ids), qrels.gallery_size
    keys = run.query.astype(np.int64) * gallery + run.doc
    relevant_keys = qrels.relevant_keys
    position = np.minimum(np.searchsorted(relevant_keys, keys), relevant_keys.size - 1)
    relevant_rows = np.flatnonzero(relevant_keys[position] == keys)

    doc_order = qrels.doc_order[run.doc]
    # Best relevant line per query: highest score, then largest document id.
    best = relevant_rows[
        np.lexsort((-doc_order[relevant_rows], -run.score[relevant_rows], run.query[relevant_rows]))
    ]
    best_query = run.query[best]
    first_of_query = np.ones(best.size, dtype=bool)
    first_of_query[1:] = best_query[1:] != best_query[:-1]
    best = best[first_of_query]
    best_score = np.full(n_queries, np.inf)
    best_order = np.full(n_queries, np.iinfo(np.int64).max)
    best_score[run.query[best]] = run.score[best]
    best_order[run.query[best]] = doc_order[best]

    q_score, q_order = best_score[run.query], best_order[run.query]
    ahead = (run.score > q_score) | ((run.score == q_score) & (doc_order > q_order))
    ranks = np.bincount(run.query[ahead], minlength=n_queries) + 1
    found = np.zeros(n_queries, dtype=bool)
    found[run.query[best]] = True
    ranks = np.where(found, ranks, NOT_FOUND)

    lines_per_query = np.bincount(run.query, minlength=n_queries)
    scored = qrels.scored_queries
    return Ranking(
        ranks=ranks[scored],
        depth=int(lines_per_query.max()),
        missing_queries=int(np.count_nonzero(lines_per_query[scored] == 0)),
    )


def score_run(
    path: str | os.PathLike[str],
    qrels: Qrels,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Metrics of one direction's run file (see `leaderboard.metrics.ranks_to_metrics`)."""
    ranking = first_relevant_ranks(parse_run(path, qrels, max_bytes, progress), qrels)
    return ranks_to_metrics(
        ranking.ranks,
        qrels.gallery_size,
        depth=ranking.depth,
        missing_queries=ranking.missing_queries,
    )


def load_truth(truth_dir: str | os.PathLike[str]) -> dict[str, Qrels]:
    """The qrels of both directions from a directory holding `t2v.qrels` and `v2t.qrels`."""
    root = Path(truth_dir)
    if not root.is_dir():
        raise LeaderboardError(f"{root}: ground-truth directory not found")
    return {direction: read_qrels(root / f"{direction}.qrels") for direction in DIRECTIONS}


def score_submission(
    truth_dir: str | os.PathLike[str],
    t2v_run: str | os.PathLike[str],
    v2t_run: str | os.PathLike[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """The scorer's `--json` document for a pair of run files."""
    truth = load_truth(truth_dir)
    t2v = score_run(t2v_run, truth["t2v"], max_bytes, progress)
    v2t = score_run(v2t_run, truth["v2t"], max_bytes, progress)
    return combine(t2v, v2t)


def guess_direction(path: str | os.PathLike[str], truth: dict[str, Qrels]) -> str:
    """ "t2v" or "v2t" for a run file: from its name, else from the ids on its first line."""
    name = Path(path).name.lower()
    named = [d for d in DIRECTIONS if d in name]
    if len(named) == 1:
        return named[0]
    fields = first_line(path).split()
    qid = fields[0].decode("utf-8", "replace") if fields else ""
    matches = [d for d in DIRECTIONS if qid in set(truth[d].query_ids)]
    if len(matches) != 1:
        raise LeaderboardError(f"{path}: cannot tell the direction; pass --direction t2v|v2t")
    return matches[0]
