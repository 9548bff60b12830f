"""Multi-positive metrics of an evaluation: a clip's near-duplicates count as relevant too.

MRW's clips and titles are ambiguous by design and near-duplicate clips are separate ids, so
one-positive recall counts a look-alike as a miss. When the dataset records near-duplicate
groups (`mrw.dataset.near_duplicates`), the harness scores the same similarity matrix a
second time against the multi-positive relevance `mrw qrels --multi-positive` exports
(`mrw.dataset.qrels.multi_positive_pairs`), at the depths of the written run files, so the
block equals what `mrw-leaderboard score` computes from those files and that truth. It is
reported beside the one-positive metrics, never instead of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from leaderboard.metrics import Bound, Metrics, RelevantRanks
from mrw.bench.evaluator import Evaluation, matrix_relevant_ranks, tie_order
from mrw.bench.runfiles import run_file_metrics
from mrw.dataset.qrels import multi_positive_pairs

RELEVANCE = "multi-positive"  # the protocol card's `relevance` of these metrics


def dataset_groups(dataset: str | os.PathLike[str]) -> dict[str, str] | None:
    """The near-duplicate groups a dataset records (video id -> group id): the
    `near_duplicates.json` of a catalogued dataset's prepared folder or of a local folder;
    None when there is none (a hub id, a folder without the file, features without media)."""
    from mrw.catalog import find_dataset
    from mrw.dataset.near_duplicates import read_near_duplicates

    record = find_dataset(dataset)
    folder = record.folder if record is not None else Path(dataset)
    return read_near_duplicates(folder) if folder.is_dir() else None


def multi_positive_ranks(
    evaluation: Evaluation, pair_video: Tensor, group_of: Mapping[str, str]
) -> dict[str, RelevantRanks] | None:
    """Every multi-positive relevant pair's exact rank in the evaluation's score matrix.

    Args:
        evaluation: the split's evaluation (`[Nv, Nt]` scores and their ids).
        pair_video: `[Nt]` the video index of each sentence.
        group_of: video id -> near-duplicate group id.
    Returns:
        `{"t2v": ..., "v2t": ...}` (queries indexed as in `evaluation.t2v_ranks` and
        `v2t_ranks`); None when no group has two videos in this split (the multi-positive
        truth would be the one-positive one).
    """
    video_ids, sentence_ids = evaluation.video_ids, evaluation.sentence_ids
    sentence_videos = [video_ids[v] for v in pair_video.tolist()]
    pairs = multi_positive_pairs(sentence_ids, sentence_videos, group_of)
    if len(pairs["t2v"]) == len(sentence_ids):
        return None
    video_index = {v: i for i, v in enumerate(video_ids)}
    sentence_index = {s: i for i, s in enumerate(sentence_ids)}
    device = evaluation.scores.device

    def indices(direction: str, queries: dict[str, int], docs: dict[str, int]) -> list[Tensor]:
        index = np.array([(queries[q], docs[d]) for q, d in pairs[direction]], dtype=np.int64)
        return [torch.from_numpy(index[:, 0]), torch.from_numpy(index[:, 1])]

    t2v_query, t2v_doc = indices("t2v", sentence_index, video_index)
    v2t_query, v2t_doc = indices("v2t", video_index, sentence_index)
    return {
        "t2v": matrix_relevant_ranks(
            evaluation.scores.T, t2v_query, t2v_doc, tie_order(video_ids, device)
        ),
        "v2t": matrix_relevant_ranks(
            evaluation.scores, v2t_query, v2t_doc, tie_order(sentence_ids, device)
        ),
    }


def multi_positive_metrics(
    evaluation: Evaluation,
    pair_video: Tensor,
    group_of: Mapping[str, str] | None,
    depths: tuple[int, int] | None = None,
) -> Metrics | None:
    """The metrics of the evaluation against multi-positive relevance.

    Args:
        evaluation: the split's evaluation.
        pair_video: `[Nt]` the video index of each sentence.
        group_of: video id -> near-duplicate group id (`dataset_groups`); None: no groups.
        depths: the (t2v, v2t) depths of the written run files; None: full depth.
    Returns:
        What `mrw-leaderboard score` computes from run files of `depths` against the split's
        multi-positive qrels (R@k as Success@k, MedR and MeanR of the first relevant
        document, mAP, nDCG@10); None without groups or when none has two videos here.
    """
    if not group_of:
        return None
    ranks = multi_positive_ranks(evaluation, pair_video, group_of)
    if ranks is None:
        return None
    n_videos, n_sentences = len(evaluation.video_ids), len(evaluation.sentence_ids)
    return run_file_metrics(
        ranks["t2v"].first(n_sentences),
        ranks["v2t"].first(n_videos),
        n_videos,
        n_sentences,
        depths or (n_videos, n_sentences),
        (ranks["t2v"], ranks["v2t"]),
    )


def multi_positive_markdown(groups: Sequence[Any]) -> str:
    """`compare`'s multi-positive table: per experiment (a `mrw.bench.compare.RunGroup`)
    whose runs have a `metrics_multi_positive` block, the mean over those seeds of the
    one-positive rsum beside the multi-positive R@1, mAP and nDCG@10 per direction and rsum,
    headed by the multi-positive protocol card. Empty when no run has the block. Never ranked
    with the one-positive rows: their relevance differs."""
    from leaderboard.render import markdown_text

    def mean(values: list[float | Bound]) -> str:  # a truncated run's bound: its known side
        bound = next((v.kind for v in values if isinstance(v, Bound)), "")
        known = [v.value if isinstance(v, Bound) else v for v in values]
        return f"{bound}{float(np.mean(known)):.1f}"

    lines, cards = [], []
    for group in groups:
        runs = [run for run in group.runs if run.metrics_multi_positive is not None]
        if not runs:
            continue
        cards += [run.multi_positive_card for run in runs if run.multi_positive_card]
        multi = [run.metrics_multi_positive for run in runs]
        cells = [
            markdown_text(group.label),
            str(len(runs)),
            mean([run.metrics.rsum for run in runs]),
            *(mean([m.direction(d).recall[1] for m in multi]) for d in ("t2v", "v2t")),
            *(mean([100 * m.direction(d).mean_ap for m in multi]) for d in ("t2v", "v2t")),
            *(mean([100 * m.direction(d).ndcg for m in multi]) for d in ("t2v", "v2t")),
            mean([m.rsum for m in multi]),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return ""
    heading = (
        f"Multi-positive relevance (near-duplicates relevant too), protocol card: "
        f"{cards[0].summary()}"
        if cards and all(c == cards[0] for c in cards)
        else "Multi-positive relevance (near-duplicates relevant too)"
    )
    header = (
        "| Method | Seeds | rsum one-positive | t2v R@1 | v2t R@1 | t2v mAP | v2t mAP | "
        "t2v nDCG@10 | v2t nDCG@10 | rsum multi-positive |"
    )
    rule = "|" + "---|" * 10
    return "\n".join([markdown_text(heading), "", header, rule, *lines]) + "\n"
