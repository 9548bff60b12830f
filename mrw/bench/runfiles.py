"""The harness's run files: how deep to write them, writing the pair, and what they score.

A run file is what a user keeps and submits, so its default depth is chosen per dataset (the
catalogue record's `run_depth`, `mrw.catalog`) to keep every reported metric exact or
honestly bounded while the pair stays small, fast to write and within the scorer's default
size limit (`leaderboard.parse.DEFAULT_MAX_BYTES`):

- MRW (5,000 x 5,000): full depth. Its MedR is ~1,600 (PVSE paper), beyond any usual
  truncation, and full depth also keeps MeanR exact: 25M short lines per direction.
- TGIF (11,360 videos; 11,360 or 34,101 sentences): depth 500. R@1/5/10 are exact, MedR is
  exact whenever it is <= 500 (published TGIF MedRs are far lower), MeanR is a lower bound
  (">= x"). Full depth would be 775M lines, ~41 GiB a direction.

Whatever the catalogue says, a default depth is lowered, if needed, to the deepest one whose
file is certain to stay under the scorer's limit (from the ids' lengths), so a default run
pair is always accepted by `mrw-leaderboard score` with default settings.

Scores are written as float32's shortest round-trip decimal text (at most 9 significant
digits): distinct float32 values get distinct texts in the same order and equal values the
same text, so the scorer's ranks (ties included) equal the harness's exactly. Fewer digits
would merge neighbours of a 5,000-long ranking and move ranks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leaderboard.metrics import NOT_FOUND, Metrics, RelevantRanks, combine, ranks_to_metrics
from leaderboard.parse import DEFAULT_MAX_BYTES
from leaderboard.runfile import write_run

if TYPE_CHECKING:
    from mrw.bench.evaluator import Evaluation

log = logging.getLogger(__name__)

FULL_DEPTH = 0  # `--run-depth full`
# The longest text a float32 score takes ("-1.17549435e-38"), and the fixed parts of a
# line: " Q0 " plus four separators (three spaces and the newline).
SCORE_CHARS = 15
FIXED_LINE_BYTES = 8


@dataclass(frozen=True)
class RunFileInfo:
    """One written run file: documents per query, lines, bytes on disk."""

    path: Path
    depth: int
    lines: int
    bytes: int


def default_depth(dataset: str) -> int | None:
    """The dataset's default run depth (None: full depth): its catalogue record's
    `run_depth` (a folder built as a catalogued dataset: that record's, see
    `mrw.catalog.dataset_record`); full depth for any other folder or hub id."""
    from mrw.catalog import dataset_record

    record = dataset_record(dataset)
    return record.run_depth if record else None


def max_line_bytes(doc_ids: Sequence[str], tag: str, depth: int) -> int:
    """An upper bound on a line's bytes without its query id.

    Args:
        doc_ids: the gallery (the longest id counts).
        tag: the run tag.
        depth: the deepest rank written (its digits count).
    Returns:
        Bytes: longest document id + tag + rank digits + the longest float32 score text +
        " Q0 " and the separators.
    """
    longest_doc = max((len(d.encode("utf-8")) for d in doc_ids), default=0)
    return longest_doc + len(tag) + len(str(depth)) + SCORE_CHARS + FIXED_LINE_BYTES


def fitted_depth(
    query_ids: Sequence[str],
    doc_ids: Sequence[str],
    tag: str,
    depth: int | None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> int:
    """The deepest depth <= `depth` (None: the gallery) whose file is surely <= `max_bytes`.

    Args:
        query_ids, doc_ids: the run's queries and its gallery.
        tag: the run tag written on every line.
        depth: the wanted depth; None for the whole gallery.
        max_bytes: the uncompressed size limit (the scorer's default).
    Returns:
        An int in [1, len(doc_ids)]: the bound uses the longest document id and score text.
    """
    wanted = len(doc_ids) if depth is None else min(int(depth), len(doc_ids))
    per_depth = sum(len(q.encode("utf-8")) for q in query_ids) + len(query_ids) * max_line_bytes(
        doc_ids, tag, wanted
    )
    return max(1, min(wanted, max_bytes // max(per_depth, 1)))


def resolve_depth(
    dataset: str, query_ids: Sequence[str], doc_ids: Sequence[str], tag: str, asked: int | None
) -> int:
    """The depth to write for one direction.

    Args:
        dataset: a catalogue name (its record's `run_depth`), or a folder/hub id (full).
        query_ids, doc_ids: the direction's queries and gallery.
        tag: the run tag.
        asked: `--run-depth`: None for the default, 0 for full depth, else N.
    Returns:
        `asked` as given (capped at the gallery; a warning when the file may exceed the
        scorer's default limit), or the dataset's default fitted to that limit (logged when
        lowered).
    """
    if asked is not None:
        depth = len(doc_ids) if asked == FULL_DEPTH else min(asked, len(doc_ids))
        if depth > fitted_depth(query_ids, doc_ids, tag, depth):
            log.warning(
                "run files of depth %d may exceed the scorer's default size limit; "
                "score them with --max-bytes",
                depth,
            )
        return depth
    default = default_depth(dataset)
    depth = fitted_depth(query_ids, doc_ids, tag, default)
    wanted = len(doc_ids) if default is None else min(default, len(doc_ids))
    if depth < wanted:
        log.info("run depth lowered from %d to %d to fit the scorer's size limit", wanted, depth)
    return depth


def truncated(ranks: np.ndarray, depth: int) -> np.ndarray:
    """First-relevant ranks as a depth-`depth` run shows them.

    Args:
        ranks: `[Nq]` 1-based ranks (0 = no relevant document).
        depth: the run's depth.
    Returns:
        `[Nq]` int64: ranks deeper than `depth` become `NOT_FOUND` (0).
    """
    ranks = np.asarray(ranks, dtype=np.int64)
    return np.where(ranks <= depth, ranks, NOT_FOUND)


def run_file_metrics(
    t2v_ranks: np.ndarray,
    v2t_ranks: np.ndarray,
    n_videos: int,
    n_sentences: int,
    depths: tuple[int, int],
    relevant: tuple[RelevantRanks | None, RelevantRanks | None] = (None, None),
) -> Metrics:
    """What `mrw-leaderboard score` computes from run files of `depths` (t2v, v2t).

    Args:
        t2v_ranks, v2t_ranks: exact 1-based first-relevant ranks from the full similarity
            matrix (`mrw.bench.evaluator`), one per query.
        n_videos, n_sentences: the galleries of t2v and v2t.
        depths: the written depths (each <= its gallery).
        relevant: per direction, every relevant pair's exact rank where a query has several
            relevant documents (`Evaluation.t2v_relevant`, `v2t_relevant`), else None.
    Returns:
        The scorer's metrics: exact where the depth decides a metric, bounds elsewhere, by
        the one function both sides use (`ranks_to_metrics`).
    """
    directions = []
    for ranks, gallery, depth, pairs in zip(
        (t2v_ranks, v2t_ranks), (n_videos, n_sentences), depths, relevant, strict=True
    ):
        shown = None if pairs is None else pairs.truncated(depth)
        directions.append(
            ranks_to_metrics(truncated(ranks, depth), gallery, depth=depth, relevant=shown)
        )
    return combine(*directions)


def write_run_pair(
    run_dir: Path,
    dataset: str,
    video_ids: Sequence[str],
    sentence_ids: Sequence[str],
    scores: Any,
    tag: str,
    asked_depth: int | None = None,
) -> dict[str, RunFileInfo]:
    """Write `t2v.run.gz` and `v2t.run.gz` of a `[Nv, Nt]` score matrix into `run_dir`.

    Args:
        run_dir: the run folder.
        dataset: the dataset name, for its default depth (its catalogue record's).
        video_ids, sentence_ids: the matrix's row and column ids.
        scores: `[Nv, Nt]` numpy array or torch tensor, higher = more similar; written as
            float32 by `write_run` (what the harness computes; the size bound assumes it).
        tag: the run tag (no whitespace).
        asked_depth: None for the dataset's default, 0 for full depth, else a depth.
    Returns:
        Per direction, the file's depth, line count and compressed size.
    """
    out = {}
    for direction, queries, docs, matrix in (
        ("t2v", sentence_ids, video_ids, scores.T),
        ("v2t", video_ids, sentence_ids, scores),
    ):
        depth = resolve_depth(dataset, queries, docs, tag, asked_depth)
        path = run_dir / f"{direction}.run.gz"
        lines = write_run(path, queries, docs, matrix, tag, depth)
        out[direction] = RunFileInfo(path, depth, lines, path.stat().st_size)
    return out


def write_evaluation_runs(
    run_dir: Path, dataset: str, evaluation: Evaluation, tag: str, asked_depth: int | None
) -> dict[str, Any]:
    """Write an evaluation's run pair; returns the `metrics.json` fields it decides.

    Returns:
        `metrics`: what `mrw-leaderboard score` computes from the written files (equal to
        `evaluation.metrics` wherever the depth decides a metric); `run_files`: depth, lines
        and bytes per direction.
    """
    files = write_run_pair(
        run_dir,
        dataset,
        evaluation.video_ids,
        evaluation.sentence_ids,
        evaluation.scores,
        tag,
        asked_depth,
    )
    metrics = run_file_metrics(
        evaluation.t2v_ranks,
        evaluation.v2t_ranks,
        len(evaluation.video_ids),
        len(evaluation.sentence_ids),
        (files["t2v"].depth, files["v2t"].depth),
        (evaluation.t2v_relevant, evaluation.v2t_relevant),
    )
    run_files = {
        direction: {"depth": info.depth, "lines": info.lines, "bytes": info.bytes}
        for direction, info in files.items()
    }
    return {"metrics": metrics, "run_files": run_files}


__all__ = [
    "FULL_DEPTH",
    "RunFileInfo",
    "default_depth",
    "fitted_depth",
    "resolve_depth",
    "run_file_metrics",
    "truncated",
    "write_evaluation_runs",
    "write_run_pair",
]
