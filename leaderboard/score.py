"""Score validated runs: first-relevant ranks in trec_eval's order, then the shared metrics.

Ranks are counted, not sorted: for each query the best-placed relevant document is found
among the (few) relevant lines, and its rank is one plus the number of lines that trec_eval
would place before it (higher score, or equal score and larger document id). That is one
vectorised pass over the run. Only when a qrels gives some query several relevant documents
(mAP and nDCG need each one's rank) are the lines of the queries that rank several of them
sorted; a one-positive qrels never pays for it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.errors import LeaderboardError
from leaderboard.metrics import (
    DIRECTIONS,
    NOT_FOUND,
    DirectionMetrics,
    Metrics,
    RelevantRanks,
    combine,
    ranks_to_metrics,
)
from leaderboard.parse import DEFAULT_MAX_BYTES, Run, first_line, parse_run
from leaderboard.qrels import Qrels, read_qrels, reindexed


@dataclass(frozen=True)
class Ranking:
    """Per scored query (in `qrels.scored_queries` order): rank of the first relevant document
    (`NOT_FOUND` when none is in the run), with the run's depth and its missing queries; and
    when some query has several relevant documents, the rank of each (`RelevantRanks`)."""

    ranks: np.ndarray
    depth: int
    missing_queries: int
    relevant: RelevantRanks | None = None


def _relevant_rows(run: Run, qrels: Qrels) -> np.ndarray:
    """Indices (ascending) of the run's lines that pair a query with a relevant document.

    A query with one relevant document (every query of MRW, TGIF's t2v, COCO's t2i) is
    matched by one lookup and compare per line; only the lines of queries with several go
    through pair keys (a bitmap, or a sorted search for large key spaces).
    """
    n_queries = len(qrels.query_ids)
    per_query = np.bincount(qrels.rel_query, minlength=n_queries)
    single = per_query[qrels.rel_query] == 1
    only = np.full(n_queries, -1, dtype=np.int32)
    only[qrels.rel_query[single]] = qrels.rel_doc[single]
    rows = np.flatnonzero(only[run.query] == run.doc)
    several = per_query > 1
    if not several.any():
        return rows
    lines = np.flatnonzero(several[run.query])
    keys = qrels.pair_keys(run.query[lines], run.doc[lines])
    relevant = qrels.relevant_keys
    if qrels.bitmap_keys:
        hit = np.isin(keys, relevant, kind="table")  # one bitmap, O(lines)
    else:
        position = np.minimum(np.searchsorted(relevant, keys), relevant.size - 1)
        hit = relevant[position] == keys
    return np.sort(np.concatenate([rows, lines[hit]]))


def first_relevant_ranks(run: Run, qrels: Qrels) -> Ranking:
    """Rank of the first relevant document of every scored query, as trec_eval orders a run.

    trec_eval sorts each query's lines by score (a C float: `Run.score`), descending, ties
    broken by document id, descending; the rank is 1 + the number of lines placed before the
    best relevant one.
    Counting replaces sorting, so this is O(lines); when each query's lines are already
    contiguous and in that order (as run files are written), a line's rank is its place.

    Args:
        run: A parsed run whose query/document indices refer to `qrels`' ids.
        qrels: The ground truth of the same direction.

    Returns:
        A `Ranking`: int64 ranks (1-based, `NOT_FOUND` = 0 when no relevant document is in
        the run), the run's depth (most lines of any query) and its missing scored queries;
        with `RelevantRanks` of every relevant pair when `qrels.several_relevant`.
    """
    n_queries = len(qrels.query_ids)
    relevant_rows = _relevant_rows(run, qrels)
    doc_order = qrels.doc_order
    # Best relevant line per query: highest score, then largest document id.
    rel_query, rel_score = run.query[relevant_rows], run.score[relevant_rows]
    best = relevant_rows[np.lexsort((-doc_order[run.doc[relevant_rows]], -rel_score, rel_query))]
    best_query = run.query[best]
    first_of_query = np.ones(best.size, dtype=bool)
    first_of_query[1:] = best_query[1:] != best_query[:-1]
    best, best_query = best[first_of_query], best_query[first_of_query]

    ranks = np.full(n_queries, NOT_FOUND, dtype=np.int64)
    starts = _ranked_blocks(run, doc_order)
    if starts is None:  # count the lines trec_eval places before each best relevant line
        best_score = np.full(n_queries, np.inf)
        best_score[best_query] = run.score[best]
        best_order = np.full(n_queries, np.iinfo(np.int64).max)
        best_order[best_query] = doc_order[run.doc[best]]
        ahead = _lines_before(run.query, run.score, run.doc, doc_order, best_score, best_order)
        ranks[best_query] = ahead[best_query] + 1
        lines_per_query = np.bincount(run.query, minlength=n_queries)
    else:  # every query's lines in rank order: a line's rank is its place among them
        ranks[best_query] = best - starts[np.searchsorted(starts, best, side="right") - 1] + 1
        lines_per_query = np.zeros(n_queries, dtype=np.int64)
        lines_per_query[run.query[starts]] = np.diff(starts, append=run.query.size)
    scored = qrels.scored_queries
    return Ranking(
        ranks=ranks[scored],
        depth=int(lines_per_query.max()),
        missing_queries=int(np.count_nonzero(lines_per_query[scored] == 0)),
        relevant=_every_relevant_rank(run, qrels, relevant_rows, ranks, starts)
        if qrels.several_relevant
        else None,
    )


def _lines_before(
    query: np.ndarray,
    score: np.ndarray,
    doc: np.ndarray,
    doc_order: np.ndarray,
    query_score: np.ndarray,
    query_order: np.ndarray,
) -> np.ndarray:
    """Per query, how many of the given lines trec_eval places before the query's reference
    line (score `query_score[q]`, document tie position `query_order[q]`): a higher score, or
    an equal score and a larger document id. One vectorised pass over the lines."""
    reference = query_score[query]
    ahead = np.bincount(query[score > reference], minlength=query_score.size)
    tied = np.flatnonzero(score == reference)
    tied = tied[doc_order[doc[tied]] > query_order[query[tied]]]
    return ahead + np.bincount(query[tied], minlength=query_score.size)


RANK_PASSES = 32  # a query listing more relevant documents than this has its lines sorted


def _every_relevant_rank(
    run: Run,
    qrels: Qrels,
    relevant_rows: np.ndarray,
    first: np.ndarray,
    starts: np.ndarray | None,
) -> RelevantRanks:
    """The rank of each relevant pair of `qrels` in `run` (trec_eval's order, as above).

    With `starts` (`_ranked_blocks`: each query's lines in rank order), a line's rank is its
    place among its query's lines. Otherwise a query's first relevant line is at its first
    relevant rank, already counted, and the n-th relevant line of the queries listing more
    than n is ranked the same way, by counting the lines placed before it: one pass per n
    over the lines of those queries only, so a TGIF video (three relevant sentences) costs
    two more passes, not a sort. The lines of a query listing more than `RANK_PASSES`
    relevant documents are sorted instead.
    """
    n_queries = len(qrels.query_ids)
    doc_order = qrels.doc_order
    keys = qrels.pair_keys(qrels.rel_query, qrels.rel_doc)
    by_key = np.argsort(keys)
    position = np.full(n_queries, -1, dtype=np.int64)
    position[qrels.scored_queries] = np.arange(qrels.scored_queries.size)
    rank = np.full(keys.size, NOT_FOUND, dtype=np.int64)

    def pairs_of(rows: np.ndarray) -> np.ndarray:  # index in `keys` of each line's pair
        row_keys = qrels.pair_keys(run.query[rows], run.doc[rows])
        return by_key[np.searchsorted(keys[by_key], row_keys)]

    if starts is not None:
        block_start = starts[np.searchsorted(starts, relevant_rows, side="right") - 1]
        rank[pairs_of(relevant_rows)] = relevant_rows - block_start + 1
        return RelevantRanks(position[qrels.rel_query], rank, qrels.gains)
    # The relevant lines query by query, each query's in trec_eval's order.
    row_query = run.query[relevant_rows]
    ordered = np.lexsort((-doc_order[run.doc[relevant_rows]], -run.score[relevant_rows], row_query))
    rows, row_query = relevant_rows[ordered], row_query[ordered]
    pair = pairs_of(rows)
    nth = np.arange(rows.size) - np.searchsorted(row_query, row_query)  # 0 for the first
    listed = np.bincount(row_query, minlength=n_queries)
    rank[pair[nth == 0]] = first[row_query[nth == 0]]
    sorted_query = listed > RANK_PASSES
    lines = np.flatnonzero(((listed > 1) & ~sorted_query)[run.query])
    for n in range(1, min(int(listed.max(initial=0)), RANK_PASSES)):
        lines = lines[(listed > n)[run.query[lines]]]
        these = (nth == n) & ~sorted_query[row_query]
        query_score = np.full(n_queries, np.inf)
        query_score[row_query[these]] = run.score[rows[these]]
        query_order = np.full(n_queries, np.iinfo(np.int64).max)
        query_order[row_query[these]] = doc_order[run.doc[rows[these]]]
        ahead = _lines_before(
            run.query[lines], run.score[lines], run.doc[lines], doc_order, query_score, query_order
        )
        rank[pair[these]] = ahead[row_query[these]] + 1
    if sorted_query.any():
        lines = np.flatnonzero(sorted_query[run.query])
        query = run.query[lines]
        order = np.lexsort((-doc_order[run.doc[lines]], -run.score[lines], query))
        line_rank = np.empty(lines.size, dtype=np.int64)
        line_rank[order] = np.arange(lines.size) - np.searchsorted(query[order], query[order]) + 1
        these = sorted_query[row_query]
        rank[pair[these]] = line_rank[np.searchsorted(lines, rows[these])]
    return RelevantRanks(position[qrels.rel_query], rank, qrels.gains)


def ranking_fingerprint(run: Run, qrels: Qrels) -> bytes:
    """SHA-256 of the ranked lists a run defines, independent of how its file is written.

    Two runs get the same fingerprint exactly when, for every query, trec_eval would rank the
    same documents in the same order (score descending, ties by document id descending; see
    `first_relevant_ranks`): compression, line order, spacing, run tags and any scores that
    keep the order do not change it. The server refuses a run pair whose rankings were
    already scored against the same truth.

    Args:
        run: A parsed run whose query/document indices refer to `qrels`' ids.
        qrels: The ground truth of the same direction.

    Returns:
        The 32-byte digest of `(query index, document index)` per line, queries in qrels
        order, each query's documents in rank order.
    """
    starts = _ranked_blocks(run, qrels.doc_order)
    if starts is None:  # lines not grouped by query in rank order: sort them (O(n log n))
        ordered = np.lexsort((-qrels.doc_order[run.doc], -run.score, run.query))
    else:  # put the blocks in qrels order (O(n))
        lengths = np.diff(starts, append=run.query.size)
        by_query = np.argsort(run.query[starts], kind="stable")
        block_start, block_length = starts[by_query], lengths[by_query]
        shift = block_start - (np.cumsum(block_length) - block_length)
        ordered = np.arange(run.query.size) + np.repeat(shift, block_length)
    digest = hashlib.sha256()
    digest.update(run.query[ordered].astype("<i4").tobytes())
    digest.update(run.doc[ordered].astype("<i4").tobytes())
    return digest.digest()


def _ranked_blocks(run: Run, doc_order: np.ndarray) -> np.ndarray | None:
    """Where each query's lines start (int64, ascending), when every query's lines are
    contiguous and already in trec_eval's order (score descending, ties by document id
    descending), as run files are written; else None. Two vectorised passes over the lines:
    query changes and score steps; document ids are compared only where a score repeats.

    Args:
        run: A parsed run (float32 scores, infinite only where a text overflowed float32;
            no repeated pair).
        doc_order: `Qrels.doc_order` of the run's qrels.
    """
    query, score = run.query, run.score
    if query.size == 0:
        return None
    same_query = query[1:] == query[:-1]
    level = np.flatnonzero(same_query & (score[1:] >= score[:-1]))  # only a tie may be level
    if (
        level.size
        and not (
            (score[level + 1] == score[level])
            & (doc_order[run.doc[level + 1]] < doc_order[run.doc[level]])
        ).all()
    ):
        return None
    starts = np.flatnonzero(~same_query) + 1
    starts = np.concatenate((np.zeros(1, dtype=starts.dtype), starts))
    if np.unique(query[starts]).size != starts.size:  # a query's lines are split up
        return None
    return starts


def ranking_metrics(ranking: Ranking, qrels: Qrels) -> DirectionMetrics:
    """Metrics of a ranking against `qrels` (see `leaderboard.metrics.ranks_to_metrics`)."""
    return ranks_to_metrics(
        ranking.ranks,
        qrels.gallery_size,
        depth=ranking.depth,
        missing_queries=ranking.missing_queries,
        relevant=ranking.relevant,
    )


MULTI_POSITIVE_DIR = "multi-positive"
"""Beside a split's one-positive qrels, its multi-positive ones (`mrw qrels --multi-positive`)."""


def score_run(
    path: str | os.PathLike[str],
    qrels: Qrels,
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
) -> DirectionMetrics:
    """Metrics of one direction's run file (see `leaderboard.metrics.ranks_to_metrics`)."""
    return score_run_against(path, [qrels], max_bytes, progress)[0]


def score_run_against(
    path: str | os.PathLike[str],
    truths: Sequence[Qrels],
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
) -> list[DirectionMetrics]:
    """Metrics of one run file against several qrels of the same ids, parsed once.

    Args:
        path: the run file.
        truths: qrels over the same id tables (the first validates the file; see
            `leaderboard.qrels.reindexed`), e.g. one-positive then multi-positive.
        max_bytes, progress: as `parse_run`.
    Returns:
        One `DirectionMetrics` per qrels, in order.
    """
    run = parse_run(path, truths[0], max_bytes, progress)
    return [ranking_metrics(first_relevant_ranks(run, qrels), qrels) for qrels in truths]


def load_truth(truth_dir: str | os.PathLike[str]) -> dict[str, Qrels]:
    """The qrels of both directions from a directory holding `t2v.qrels` and `v2t.qrels`."""
    root = Path(truth_dir)
    if not root.is_dir():
        raise LeaderboardError(f"{root}: ground-truth directory not found")
    return {direction: read_qrels(root / f"{direction}.qrels") for direction in DIRECTIONS}


def load_multi_positive_truth(
    truth_dir: str | os.PathLike[str], truth: dict[str, Qrels]
) -> dict[str, Qrels] | None:
    """The multi-positive qrels in `truth_dir/multi-positive/`, over `truth`'s id tables;
    None when the folder has none."""
    folder = Path(truth_dir) / MULTI_POSITIVE_DIR
    if not folder.is_dir():
        return None
    return {d: reindexed(qrels, truth[d]) for d, qrels in load_truth(folder).items()}


@dataclass(frozen=True)
class Scores:
    """A run pair's metrics: one-positive, and multi-positive when the truth has them."""

    one_positive: Metrics
    multi_positive: Metrics | None = None

    def to_json(self) -> dict[str, Any]:
        """The scorer's `--json` document: the one-positive metrics (`{"t2v", "v2t", "rsum"}`),
        plus `"multi-positive": {"t2v", "v2t", "rsum"}` when scored against those too."""
        out = self.one_positive.to_json()
        if self.multi_positive is not None:
            out[MULTI_POSITIVE_DIR] = self.multi_positive.to_json()
        return out


def score_submission(
    truth_dir: str | os.PathLike[str],
    t2v_run: str | os.PathLike[str],
    v2t_run: str | os.PathLike[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
    threads: int = 1,
) -> Metrics:
    """Both directions' metrics for a pair of run files (`.to_json()` is the `--json` document).

    With `threads` >= 2 the two files are scored at once, one thread each (Arrow's CSV reader
    and numpy release the GIL, so this uses two cores; peak memory is both files' arrays at
    once). Errors are the same either way: the t2v file's problem is reported first.
    """
    return score_pair(truth_dir, t2v_run, v2t_run, max_bytes, progress, threads).one_positive


def score_pair(
    truth_dir: str | os.PathLike[str],
    t2v_run: str | os.PathLike[str],
    v2t_run: str | os.PathLike[str],
    max_bytes: int = DEFAULT_MAX_BYTES,
    progress: Callable[[int], None] | None = None,
    threads: int = 1,
    multi_positive: bool = True,
) -> Scores:
    """`score_submission`, and with `multi_positive` the same runs (parsed once) against
    `truth_dir/multi-positive/` when it exists (`mrw qrels --multi-positive`)."""
    truth = load_truth(truth_dir)
    multi = load_multi_positive_truth(truth_dir, truth) if multi_positive else None
    jobs = [
        (path, [truth[d], *([multi[d]] if multi else [])])
        for d, path in zip(DIRECTIONS, (t2v_run, v2t_run), strict=True)
    ]
    if threads < 2:
        results = [score_run_against(path, truths, max_bytes, progress) for path, truths in jobs]
    else:
        with ThreadPoolExecutor(2, thread_name_prefix="score") as pool:
            futures = [
                pool.submit(score_run_against, path, truths, max_bytes, progress)
                for path, truths in jobs
            ]
            results = [future.result() for future in futures]
    (t2v, *t2v_multi), (v2t, *v2t_multi) = results
    return Scores(combine(t2v, v2t), combine(*t2v_multi, *v2t_multi) if multi else None)


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
