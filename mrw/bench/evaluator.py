"""Embeddings -> similarity -> exact first-relevant ranks -> metrics, for both directions.

The similarity is computed once, in chunks of videos through `method.similarity` (so a
method's own score, e.g. Order's violation, is what gets ranked, and no N x N x K x K tensor
ever exists). Ranks are exact and break ties the way trec_eval does (higher score first,
then document id in decreasing byte order), so the ranks computed here equal the ranks the
leaderboard scorer computes from the run files written from the same matrix.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from leaderboard.metrics import Metrics, RelevantRanks, combine, ranks_to_metrics
from mrw.bench.data import PairData
from mrw.methods.base import Method

# Bytes of similarity scores a chunk may hold: bounds peak memory whatever the gallery size.
CHUNK_BYTES = 256 * 2**20
# On a CPU, each call scores a tile of videos x texts whose [v*K, t*Kt] products (~2 MiB)
# stay in the L2 cache while they are max-reduced, instead of a chunk that goes through
# DRAM twice (written by the matmul, read back by the max); rows of tiles are spread over
# the CPU threads, each tile computed by one thread, rather than splitting every small
# matmul across threads that must meet after each (a descheduled thread on a shared machine
# then stalls all). Faster than a bare matmul writing all (N*K)^2 products at 1 and 2
# threads (benchmarks/eval.py).
CPU_TILE_BYTES = 2 * 2**20


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """Mixed precision on CUDA: bf16 where supported (no loss scaling), else fp16; none on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    dtype = amp_dtype(device)
    return contextlib.nullcontext() if dtype is None else torch.autocast("cuda", dtype=dtype)


@torch.inference_mode()
def encode(
    method: Method, data: PairData, device: torch.device, batch_size: int = 256
) -> tuple[Tensor, Tensor]:
    """(`[Nv, K, D]` video, `[Nt, K, D]` text) fp32 embeddings of a split, videos deduplicated."""
    was_training = method.training
    method.eval()
    try:
        with autocast(device):
            videos = [
                method.encode_video(v.to(device), n.to(device)).float()
                for v, n in data.video_batches(batch_size)
            ]
            texts = [
                method.encode_text(t.to(device), n.to(device)).float()
                for t, n in data.text_batches(batch_size)
            ]
    finally:
        method.train(was_training)
    return torch.cat(videos), torch.cat(texts)


Similarity = Callable[[Tensor, Tensor], Tensor]


@torch.inference_mode()
def similarity_matrix(
    similarity: Similarity,
    video_emb: Tensor,
    text_emb: Tensor,
    chunk_bytes: int = CHUNK_BYTES,
    tile_bytes: int | None = None,
) -> Tensor:
    """`[Nv, Nt]` fp32 scores: `similarity` (a method's) applied block by block.

    Args:
        similarity: `[v, K, D]` x `[t, Kt, D]` -> `[v, t]` scores (`Method.similarity`); on a
            CPU it is called from `torch.get_num_threads()` threads at once, each running
            with one intra-op thread (the setting is restored on return).
        video_emb, text_emb: `[Nv, K, D]` and `[Nt, Kt, D]` embeddings.
        chunk_bytes: most bytes of `[v, K, t, Kt]` products one call may produce.
        tile_bytes: also split the texts, so that one call's products take about this many
            bytes; default `CPU_TILE_BYTES` on a CPU, none (all texts at once) on a GPU,
            where large calls keep the device busy.
    """
    nv, k, _ = video_emb.shape
    nt, kt, _ = text_emb.shape
    cpu = video_emb.device.type == "cpu"
    if tile_bytes is None and cpu:
        tile_bytes = CPU_TILE_BYTES
    rows, cols = max(1, chunk_bytes // (4 * k * kt * max(nt, 1))), max(nt, 1)
    if tile_bytes is not None:
        side = math.isqrt(max(tile_bytes // 4, 1))  # embedding rows per side of a square tile
        rows, cols = min(rows, max(1, side // k)), max(1, side // kt)
    out = torch.empty(nv, nt, dtype=torch.float32, device=video_emb.device)

    def score_rows(start: int) -> None:
        with torch.inference_mode():  # thread-local: worker threads need it too
            videos = video_emb[start : start + rows]
            for first in range(0, nt, cols):
                texts = text_emb[first : first + cols]
                out[start : start + rows, first : first + cols] = similarity(videos, texts).float()

    starts = range(0, nv, rows)
    threads = torch.get_num_threads()
    if not cpu or threads == 1 or len(starts) == 1:
        for start in starts:
            score_rows(start)
        return out
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(threads, thread_name_prefix="similarity") as pool:
            list(pool.map(score_rows, starts))
    finally:
        torch.set_num_threads(threads)
    return out


def tie_order(doc_ids: Sequence[str], device: torch.device | str = "cpu") -> Tensor:
    """`[Nd]` position of each document among equal scores (trec_eval: docno descending)."""
    order = sorted(range(len(doc_ids)), key=lambda i: doc_ids[i].encode("utf-8"), reverse=True)
    position = torch.empty(len(doc_ids), dtype=torch.long)
    position[torch.tensor(order, dtype=torch.long)] = torch.arange(len(doc_ids))
    return position.to(device)


@torch.inference_mode()
def matrix_first_relevant_ranks(
    scores: Tensor,
    rel_query: Tensor,
    rel_doc: Tensor,
    doc_order: Tensor,
    chunk_bytes: int = CHUNK_BYTES,
) -> np.ndarray:
    """1-based rank of each query's first relevant document in a dense score matrix, exactly,
    ties as trec_eval (the scorer's `leaderboard.score.first_relevant_ranks` does the same
    from a run file; both feed `leaderboard.metrics`).

    `scores` is `[Nq, Nd]` (a transposed view is fine); relevance is the list of
    (`rel_query[i]`, `rel_doc[i]`) pairs; `doc_order` comes from `tie_order`. Queries
    without a relevant document get 0 (`leaderboard.metrics.NOT_FOUND`).
    """
    nq, nd = scores.shape
    device = scores.device
    rel_query, rel_doc, doc_order = rel_query.to(device), rel_doc.to(device), doc_order.to(device)
    rel_scores = scores[rel_query, rel_doc]
    best = torch.full((nq,), float("-inf"), device=device).scatter_reduce(
        0, rel_query, rel_scores, "amax"
    )
    # Among relevant documents tied at the best score, trec_eval lists the lowest tie position
    # first.
    tied = torch.where(rel_scores == best[rel_query], doc_order[rel_doc], nd)
    first = torch.full((nq,), nd, dtype=torch.long, device=device).scatter_reduce(
        0, rel_query, tied, "amin"
    )
    has_relevant = torch.zeros(nq, dtype=torch.bool, device=device)
    has_relevant[rel_query] = True
    ranks = torch.zeros(nq, dtype=torch.long, device=device)
    rows = max(1, chunk_bytes // max(nd, 1))
    for start in range(0, nq, rows):
        chunk = scores[start : start + rows]
        b, f = best[start : start + rows, None], first[start : start + rows, None]
        ahead = _count(chunk > b)
        tied = chunk == b
        # Each query ties with its own best relevant document; anything beyond that is rare
        # in float scores, so the tie-order pass runs only when there is some.
        if int(torch.count_nonzero(tied)) != int(has_relevant[start : start + rows].sum()):
            ahead += _count(tied & (doc_order[None, :] < f))
        ranks[start : start + rows] = ahead + 1
    return torch.where(has_relevant, ranks, 0).cpu().numpy()


@torch.inference_mode()
def matrix_relevant_ranks(
    scores: Tensor,
    rel_query: Tensor,
    rel_doc: Tensor,
    doc_order: Tensor,
    chunk_bytes: int = CHUNK_BYTES,
) -> RelevantRanks:
    """The rank of every relevant pair in a dense score matrix, exactly, ties as trec_eval
    (what `leaderboard.score` computes from a run file when a query has several relevant
    documents; mAP and nDCG need them).

    Args:
        scores: `[Nq, Nd]` scores (a transposed view is fine).
        rel_query, rel_doc: `[P]` the relevant (query, document) index pairs; every query
            with a relevant document is one of the `Nq` rows, its position in the ranks.
        doc_order: `[Nd]` from `tie_order`.
        chunk_bytes: most bytes of gathered score rows at once.
    Returns:
        `RelevantRanks` with `[P]` 1-based ranks (1 + documents scored higher + those tied
        and placed first) and gain 1.
    """
    nd = scores.shape[1]
    device = scores.device
    rel_query, rel_doc, doc_order = rel_query.to(device), rel_doc.to(device), doc_order.to(device)
    ranks = torch.empty(rel_query.numel(), dtype=torch.long, device=device)
    rows = max(1, chunk_bytes // max(4 * nd, 1))
    for start in range(0, rel_query.numel(), rows):
        query, doc = rel_query[start : start + rows], rel_doc[start : start + rows]
        chunk = scores[query]
        score = chunk.gather(1, doc[:, None])
        ahead = _count(chunk > score)
        ahead += _count((chunk == score) & (doc_order[None, :] < doc_order[doc][:, None]))
        ranks[start : start + rows] = ahead + 1
    return RelevantRanks(
        rel_query.cpu().numpy().astype(np.int64),
        ranks.cpu().numpy(),
        np.ones(rel_query.numel()),
    )


def _count(mask: Tensor) -> Tensor:
    """True entries per row; summing bools as bytes into int32 is several times faster on CPU."""
    return mask.view(torch.uint8).sum(1, dtype=torch.int32).long()


@dataclass
class Evaluation:
    """Scores, ranks and metrics of one split (`metrics.to_json()` is the scorer's document)."""

    scores: Tensor  # [Nv, Nt]
    video_ids: list[str]
    sentence_ids: list[str]
    t2v_ranks: np.ndarray
    v2t_ranks: np.ndarray
    metrics: Metrics
    # Every relevant pair's rank where a query has several relevant documents (TGIF's v2t).
    t2v_relevant: RelevantRanks | None = None
    v2t_relevant: RelevantRanks | None = None


def evaluate_scores(
    scores: Tensor, video_ids: list[str], sentence_ids: list[str], pair_video: Tensor
) -> Evaluation:
    """Both directions' ranks and metrics from a `[Nv, Nt]` score matrix.

    `pair_video[j]` is the video of sentence j: the one relevant video of a text query,
    and one of possibly several relevant sentences of a video query (TGIF; then the rank of
    each is computed too, for mAP and nDCG@10).
    """
    device = scores.device
    sentences = torch.arange(len(sentence_ids), device=device)
    pair_video = pair_video.to(device)
    sentence_order = tie_order(sentence_ids, device)
    t2v = matrix_first_relevant_ranks(scores.T, sentences, pair_video, tie_order(video_ids, device))
    v2t = matrix_first_relevant_ranks(scores, pair_video, sentences, sentence_order)
    several = bool(torch.bincount(pair_video, minlength=len(video_ids)).max() > 1)
    v2t_relevant = (
        matrix_relevant_ranks(scores, pair_video, sentences, sentence_order) if several else None
    )
    metrics = combine(
        ranks_to_metrics(t2v, gallery_size=len(video_ids)),
        ranks_to_metrics(v2t, gallery_size=len(sentence_ids), relevant=v2t_relevant),
    )
    return Evaluation(scores, video_ids, sentence_ids, t2v, v2t, metrics, v2t_relevant=v2t_relevant)


def evaluate(
    method: Method, data: PairData, device: torch.device, batch_size: int = 256
) -> Evaluation:
    """Encode a split, score every video against every sentence, rank, and compute metrics."""
    video_emb, text_emb = encode(method, data, device, batch_size)
    scores = similarity_matrix(method.similarity, video_emb, text_emb)
    split = data.split
    return evaluate_scores(scores, split.video_ids, split.pair_ids, split.pair_video)


def fold_metrics(
    evaluation: Evaluation, pair_video: Tensor, folds: int, fold_size: int
) -> dict[str, Any]:
    """MS-COCO's "1K" protocol: metrics on each of `folds` blocks of `fold_size` consecutive
    test images (with their captions), and their mean.

    As VSE++'s and PVSE's evaluation code (`evalrank(..., fold5=True)`) computes it: fold f
    ranks images f*1000..f*1000+999 against their own 5,000 captions only, each metric is
    computed per fold and the five values are averaged (so MedR may be fractional). The 5K
    numbers are `evaluation.metrics` itself.

    Args:
        evaluation: the whole split's evaluation (`[Nv, Nt]` scores, videos in split order).
        pair_video: `[Nt]` image index of each caption.
        folds, fold_size: e.g. 5 and 1000; the split needs at least folds * fold_size images.
    Returns:
        `{"folds": folds, "fold_size": fold_size, "metrics": {"t2v", "v2t", "rsum"} (means),
        "per_fold": [metrics of each fold]}`, every metrics document in the scorer's format.
    Raises:
        ValueError: fewer images than folds * fold_size.
    """
    if len(evaluation.video_ids) < folds * fold_size:
        raise ValueError(
            f"{folds} folds of {fold_size} images need {folds * fold_size} images, "
            f"the split has {len(evaluation.video_ids)}"
        )
    pair_video = pair_video.to(evaluation.scores.device)
    per_fold = []
    for fold in range(folds):
        first = fold * fold_size
        captions = torch.nonzero((pair_video >= first) & (pair_video < first + fold_size))[:, 0]
        sub = evaluate_scores(
            evaluation.scores[first : first + fold_size][:, captions],
            evaluation.video_ids[first : first + fold_size],
            [evaluation.sentence_ids[i] for i in captions.tolist()],
            pair_video[captions] - first,
        )
        per_fold.append(sub.metrics.to_json())
    return {
        "folds": folds,
        "fold_size": fold_size,
        "metrics": mean_metrics(per_fold),
        "per_fold": per_fold,
    }


def mean_metrics(documents: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The mean of several scorer documents, number by number (counts such as `queries` too).

    The harness's documents are exact (full-depth ranks), so every metric is a number."""

    def mean(values: list[Any]) -> Any:
        if isinstance(values[0], dict):
            return {key: mean([v[key] for v in values]) for key in values[0]}
        if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            return sum(values) / len(values)
        return values[0]  # not a number (None for an empty direction): the first fold's

    return mean(list(documents))
