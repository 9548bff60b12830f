"""Set-aware evaluation of multi-embedding methods: which of the K x K head pairs wins, per query.

PVSE (Song & Soleymani, CVPR 2019, eq. 6 and Sec. 4) scores a (video, sentence) pair by the
best cosine over the K x K pairs of their embeddings. The evaluator ranks by that score only;
this module says, per query, *which* pair won and by how much, and per run how the heads are
used. One chunked pass over videos computes the `[rows, K, K, Nt]` cosines once and derives
from it, without ever holding more than one chunk:

- the max-reduced `[Nv, Nt]` score matrix (the paper's similarity, `Method.similarity`'s
  default), which the runner hands to the evaluator instead of computing it a second time;
- per head k, the first relevant rank when only head k of both sides is kept ("recall if
  only head k were kept");
- for every alternative K x K reduction asked for (`mean`, `lse`: log-sum-exp with a
  temperature), the first relevant rank under that reduction.

The per-head and alternative-reduction ranks count the non-relevant items scored strictly
higher than the best relevant one (ties in the query's favour; the evaluator's own ranks,
with trec_eval's tie order, are the table's `rank`). From the max-reduced matrix and the
ground-truth pairs' own K x K blocks come the per-query table: the rank of every relevant
item, the winning pair (k_query, k_item) of the best relevant item's block and its margin
over the block's runner-up, and the top-`TOP` retrieved items.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from leaderboard.metrics import RECALL_KS
from mrw.bench.evaluator import CHUNK_BYTES, tie_order
from mrw.core.errors import MRWError

if TYPE_CHECKING:
    from mrw.bench.data import PairData
    from mrw.bench.evaluator import Evaluation
    from mrw.methods.base import Method

REDUCTIONS = ("max", "mean", "lse")
LSE_TEMPERATURE = 0.1  # lse(s) = τ log Σ exp(s / τ) over the K x K cosines
TOP = 10  # retrieved items kept per query in the table
PER_QUERY_FILE = "per_query.parquet"
DIRECTIONS = ("t2v", "v2t")


@dataclass
class SetAwarePass:
    """What one chunked pass over the K x K cosines yields (see the module docstring).

    scores: `[Nv, Nt]` fp32, the max over each K x K block (None when K = 1 on both sides:
        the evaluator's own matrix is then used);
    head_ranks: direction -> `[Nq, K]` int64 first relevant rank with only head k kept
        (K > 1, same K on both sides; else None);
    reduction_ranks: direction -> reduction -> `[Nq]` int64 first relevant rank;
    blocks: `[Nt, Kv, Kt]` cosines of the ground-truth pairs (`pair_blocks`; None when the
        pass was skipped).
    """

    scores: Tensor | None
    head_ranks: dict[str, np.ndarray] | None
    reduction_ranks: dict[str, dict[str, np.ndarray]]
    blocks: Tensor | None = None


def reduce_blocks(scores: Tensor, reduction: str, dims: tuple[int, int]) -> Tensor:
    """Reduce K x K cosine blocks over the two head axes `dims`.

    `max` is PVSE's (eq. 6); `mean` averages the K² cosines; `lse` is the smooth maximum
    τ log Σ exp(s/τ) with τ = `LSE_TEMPERATURE`, minus τ log K² so that K equal cosines
    score as that cosine (a shift that changes no rank).

    Raises:
        MRWError: an unknown reduction.
    """
    if reduction == "max":
        return scores.amax(dim=dims[1]).amax(dim=dims[0])
    if reduction == "mean":
        return scores.mean(dim=dims)
    if reduction == "lse":
        count = scores.shape[dims[0]] * scores.shape[dims[1]]
        shifted = torch.logsumexp(scores / LSE_TEMPERATURE, dim=dims)
        return LSE_TEMPERATURE * (shifted - math.log(count))
    raise MRWError(f"unknown K x K reduction {reduction!r}; use one of {', '.join(REDUCTIONS)}")


def check_reductions(reductions: Sequence[str]) -> tuple[str, ...]:
    """The alternative reductions asked for, validated and without `max` (always computed).

    Raises:
        MRWError: an unknown name.
    """
    unknown = [r for r in reductions if r not in REDUCTIONS]
    if unknown:
        raise MRWError(
            f"unknown K x K reduction {', '.join(unknown)}; use one of {', '.join(REDUCTIONS)}"
        )
    return tuple(r for r in dict.fromkeys(reductions) if r != "max")


def pair_blocks(video_emb: Tensor, text_emb: Tensor, pair_video: Tensor) -> Tensor:
    """`[Nt, Kv, Kt]` cosines of each ground-truth pair (sentence j with its video)."""
    return torch.einsum("pkd,pld->pkl", video_emb[pair_video], text_emb)


@torch.inference_mode()
def set_aware_pass(
    video_emb: Tensor,
    text_emb: Tensor,
    pair_video: Tensor,
    reductions: Sequence[str] = (),
    chunk_bytes: int = CHUNK_BYTES,
) -> SetAwarePass:
    """The chunked pass over `[Nv, Kv, D] x [Nt, Kt, D]` L2-normalised embeddings.

    `pair_video[j]` is sentence j's video. Peak extra memory is one `[rows, Kv, Kt, Nt]` chunk
    (bounded by `chunk_bytes`) plus the `[Nv, Nt]` output. See `SetAwarePass`.
    """
    extra = check_reductions(reductions)
    nv, kv, d = video_emb.shape
    nt, kt, _ = text_emb.shape
    device = video_emb.device
    pair_video = pair_video.to(device)
    single = kv == 1 and kt == 1
    per_head = kv == kt and kv > 1
    if single and not extra:
        return SetAwarePass(None, None, {})
    blocks = pair_blocks(video_emb, text_emb, pair_video)  # [Nt, Kv, Kt]
    # Each query's best relevant score under each scoring: `[Nt, S]`, S = the heads kept one
    # at a time (when per_head), then the alternative reductions.
    names = [f"head{k}" for k in range(kv)] if per_head else []
    names += list(extra)
    parts = [blocks.diagonal(dim1=1, dim2=2)] if per_head else []
    parts += [reduce_blocks(blocks, r, (1, 2))[:, None] for r in extra]
    rel = torch.cat(parts, dim=1) if parts else blocks.new_zeros(nt, 0)
    best_v = torch.full((nv, len(names)), float("-inf"), device=device).scatter_reduce(
        0, pair_video[:, None].expand_as(rel), rel, "amax"
    )
    # Non-relevant items scored above the best relevant one: all items above it, minus the
    # relevant ones above it (a relevant item's own score may differ from `rel` in the last
    # bit, computed by another kernel; it must not count against itself).
    rel_t = rel.T.contiguous()  # [S, Nt]
    above_t = torch.zeros(len(names), nt, dtype=torch.long, device=device)
    above_v = torch.zeros(nv, len(names), dtype=torch.long, device=device)
    scores = torch.empty(nv, nt, dtype=torch.float32, device=device)
    rows = max(1, chunk_bytes // (4 * kv * kt * max(nt, 1)))
    # Head-major text (`[Kt * Nt, D]`): each head pair's cosines are one contiguous `[rows, Nt]`
    # slab, so the max over heads is an elementwise max of slabs and head k's own scores are
    # read without touching the others.
    flat_text = text_emb.transpose(0, 1).reshape(kt * nt, d)
    for start in range(0, nv, rows):
        stop = min(nv, start + rows)
        full = (video_emb[start:stop].reshape(-1, d) @ flat_text.T).view(-1, kv, kt, nt)
        scores[start:stop] = full.amax(dim=2).amax(dim=1)
        if not names:
            continue
        views = [full[:, k, k] for k in range(kv)] if per_head else []
        views += [reduce_blocks(full, r, (1, 2)) for r in extra]
        view = torch.stack(views, dim=1)  # [rows, S, Nt]
        mine = (pair_video >= start) & (pair_video < stop)  # pairs whose video is in the chunk
        rows_of_mine = pair_video[mine] - start
        cols_of_mine = torch.nonzero(mine)[:, 0]
        own = view[rows_of_mine, :, cols_of_mine]  # [P, S]
        above_t += _count(view > rel_t[None], 0)
        above_t[:, cols_of_mine] -= (own > rel[cols_of_mine]).long().T
        b = best_v[start:stop]
        above_v[start:stop] += _count(view > b[:, :, None], 2)
        above_v[start:stop].index_add_(0, rows_of_mine, -(own > b[rows_of_mine]).long())
    has_relevant = torch.zeros(nv, dtype=torch.bool, device=device)
    has_relevant[pair_video] = True

    v2t_all = torch.where(has_relevant[:, None], above_v + 1, 0).cpu().numpy()
    t2v_all = (above_t.T + 1).cpu().numpy()
    head_ranks = {"t2v": t2v_all[:, :kv], "v2t": v2t_all[:, :kv]} if per_head else None
    offset = kv if per_head else 0
    reduction_ranks = {
        "t2v": {r: t2v_all[:, offset + i] for i, r in enumerate(extra)},
        "v2t": {r: v2t_all[:, offset + i] for i, r in enumerate(extra)},
    }
    return SetAwarePass(None if single else scores, head_ranks, reduction_ranks, blocks)


def _count(mask: Tensor, dim: int) -> Tensor:
    """True entries along `dim`, summed as bytes into int32 (faster than bools on CPU)."""
    return mask.view(torch.uint8).sum(dim, dtype=torch.int32).long()


def relevant_ranks(
    scores: Tensor, rel_query: Tensor, rel_doc: Tensor, doc_order: Tensor, chunk: int = 4096
) -> np.ndarray:
    """`[P]` 1-based rank of each relevant (query, doc) pair in a `[Nq, Nd]` score matrix,
    ties as trec_eval (higher score first, then `doc_order`, from `evaluator.tie_order`).

    The smallest over a query's pairs is the evaluator's first relevant rank
    (`matrix_first_relevant_ranks`).
    """
    out = torch.empty(len(rel_query), dtype=torch.long)
    doc_order = doc_order.to(scores.device)
    for start in range(0, len(rel_query), chunk):
        q = rel_query[start : start + chunk].to(scores.device)
        dd = rel_doc[start : start + chunk].to(scores.device)
        rows = scores[q]
        own = rows.gather(1, dd[:, None])
        ahead = (rows > own) | ((rows == own) & (doc_order[None, :] < doc_order[dd][:, None]))
        out[start : start + chunk] = (ahead.sum(1) + 1).cpu()
    return out.numpy()


def _winners(blocks: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(`[P]` winning video head, `[P]` winning text head, `[P]` margin of the best cosine of
    each `[P, Kv, Kt]` block over the runner-up; NaN when the block has one entry)."""
    p, kv, kt = blocks.shape
    flat = blocks.reshape(p, kv * kt).float()
    if kv * kt == 1:
        zeros = torch.zeros(p, dtype=torch.long)
        return zeros, zeros, torch.full((p,), float("nan"))
    top = flat.topk(2, dim=1)
    best = top.indices[:, 0]
    return best // kt, best % kt, top.values[:, 0] - top.values[:, 1]


def per_query_table(
    scores: Tensor,
    video_emb: Tensor,
    text_emb: Tensor,
    pair_video: Tensor,
    video_ids: list[str],
    sentence_ids: list[str],
    passed: SetAwarePass,
    texts: list[str] | None = None,
    first_ranks: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, dict[str, Any]]:
    """Per direction, the per-query columns (numpy arrays / lists, one entry per query).

    `first_ranks`, the evaluator's (t2v, v2t) first relevant ranks of the same `scores`
    (`Evaluation.t2v_ranks`, `v2t_ranks`), saves recomputing what they already say: every
    t2v rank, and every v2t rank when no video has more than one sentence.

    Columns: `query` (index), `query_id`, `text` (a t2v query's sentence, given `texts`;
    None for v2t rows), `relevant` (item indices), `relevant_ranks` (their
    1-based ranks), `rank` (the first relevant rank; 0 when none), `k_query`, `k_item` (the
    winning heads of the best relevant item's K x K block), `margin` (its best cosine minus
    the runner-up; NaN for K = 1), `top` (the `TOP` best items, best first, trec_eval ties),
    `head_ranks` (`[K]` ranks with one head kept, when the pass has them) and `rank_<r>` per
    alternative reduction r.
    """
    device = scores.device
    pair_video = pair_video.to(device)
    nv, nt = scores.shape
    sentences = torch.arange(nt, device=device)
    blocks = passed.blocks
    if blocks is None:
        blocks = pair_blocks(video_emb.to(device), text_emb.to(device), pair_video)
    blocks = blocks.cpu()
    kvid, ktxt, margin = _winners(blocks)
    video_order, text_order = tie_order(video_ids, device), tie_order(sentence_ids, device)
    tables: dict[str, dict[str, Any]] = {}
    # t2v: one relevant video per sentence.
    if first_ranks is not None:
        t2v_ranks = np.asarray(first_ranks[0])
    else:
        t2v_ranks = relevant_ranks(scores.T, sentences, pair_video, video_order)
    tables["t2v"] = {
        "query": np.arange(nt, dtype=np.int32),
        "query_id": list(sentence_ids),
        "text": list(texts) if texts is not None else [None] * nt,
        "relevant": pair_video.cpu().numpy()[:, None].astype(np.int32),
        "relevant_ranks": t2v_ranks[:, None].astype(np.int32),
        "rank": t2v_ranks.astype(np.int32),
        "k_query": ktxt.numpy().astype(np.int16),
        "k_item": kvid.numpy().astype(np.int16),
        "margin": margin.numpy().astype(np.float32),
        "top": _top(scores.T, video_order),
    }
    # v2t: a video's relevant sentences; its row reports the best-ranked one's block.
    pv = pair_video.cpu().numpy()
    if first_ranks is not None and (nt == 0 or np.bincount(pv).max() <= 1):
        v2t_pair_ranks = np.asarray(first_ranks[1])[pv]
    else:
        v2t_pair_ranks = relevant_ranks(scores, pair_video, sentences, text_order)
    order = np.lexsort((v2t_pair_ranks, pv))  # pairs by video, best rank first
    groups = np.split(order, np.flatnonzero(np.diff(pv[order])) + 1) if nt else []
    best_pair = np.full(nv, -1, dtype=np.int64)
    relevant: list[np.ndarray] = [np.zeros(0, dtype=np.int32)] * nv
    ranks_of: list[np.ndarray] = [np.zeros(0, dtype=np.int32)] * nv
    for group in groups:
        v = pv[group[0]]
        best_pair[v] = group[0]
        relevant[v] = group.astype(np.int32)
        ranks_of[v] = v2t_pair_ranks[group].astype(np.int32)
    found = best_pair >= 0
    pick = np.where(found, best_pair, 0)
    tables["v2t"] = {
        "query": np.arange(nv, dtype=np.int32),
        "query_id": list(video_ids),
        "text": [None] * nv,
        "relevant": relevant,
        "relevant_ranks": ranks_of,
        "rank": np.where(found, v2t_pair_ranks[pick], 0).astype(np.int32),
        "k_query": np.where(found, kvid.numpy()[pick], -1).astype(np.int16),
        "k_item": np.where(found, ktxt.numpy()[pick], -1).astype(np.int16),
        "margin": np.where(found, margin.numpy()[pick], np.nan).astype(np.float32),
        "top": _top(scores, text_order),
    }
    for direction, table in tables.items():
        if passed.head_ranks is not None:
            table["head_ranks"] = passed.head_ranks[direction].astype(np.int32)
        for r, value in passed.reduction_ranks.get(direction, {}).items():
            table[f"rank_{r}"] = value.astype(np.int32)
    return tables


def _top(scores: Tensor, doc_order: Tensor, chunk: int = 4096) -> np.ndarray:
    """`[Nq, min(TOP, Nd)]` int32 best documents per query row, ties in trec_eval order."""
    nq, nd = scores.shape
    k = min(TOP, nd)
    out = np.empty((nq, k), dtype=np.int32)
    # Score first, then the tie position: sort on (score, -tie position) among a widened top.
    wide = min(nd, k + 16)
    for start in range(0, nq, chunk):
        rows = scores[start : start + chunk]
        cand = rows.topk(wide, dim=1).indices
        values = rows.gather(1, cand)
        key = torch.stack([values, -doc_order[cand].to(values.dtype)], dim=-1)
        idx = np.lexsort((key[..., 1].cpu().numpy(), key[..., 0].cpu().numpy()), axis=1)
        out[start : start + chunk] = np.take_along_axis(cand.cpu().numpy(), idx[:, ::-1], 1)[:, :k]
    return out


def head_cosine(emb: Tensor) -> list[list[float]] | None:
    """`[K, K]` mean cosine between heads i and j of one instance over `[N, K, D]` L2-normalised
    embeddings (1.0: the heads are copies of one embedding); None for K = 1."""
    n, k, _ = emb.shape
    if k < 2:
        return None
    flat = emb.float().transpose(0, 1).reshape(k, -1)  # [K, N*D]: one product, no batching
    return (flat @ flat.T / max(n, 1)).tolist()


def usage(counts: np.ndarray) -> dict[str, Any]:
    """How often each head wins: counts, and the entropy of their distribution in nats, its
    ratio to log K (1.0: uniform use) and the KL divergence to uniform (log K - H)."""
    total = counts.sum()
    k = len(counts)
    p = counts / total if total else np.zeros(k)
    entropy = float(-(p[p > 0] * np.log(p[p > 0])).sum()) + 0.0  # never -0.0
    return {
        "counts": counts.astype(int).tolist(),
        "entropy": entropy,
        "entropy_ratio": entropy / math.log(k) if k > 1 else None,
        "kl_uniform": math.log(k) - entropy if k > 1 else None,
    }


def recalls(ranks: np.ndarray) -> dict[str, float]:
    """R@k (percent) of 1-based first relevant ranks (queries with rank 0 left out)."""
    ranks = ranks[ranks > 0]
    n = max(len(ranks), 1)
    return {f"R@{k}": 100.0 * float((ranks <= k).sum()) / n for k in RECALL_KS}


def summarise(
    tables: dict[str, dict[str, Any]],
    video_emb: Tensor,
    text_emb: Tensor,
    reductions: Sequence[str],
    attention: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run-level summary stored in `metrics.json` (`RunRecord.set_aware`).

    Head usage counts the winning heads of every ground-truth pair (the t2v rows, one per
    pair); `attention` is `Method.init_check` measured on trained weights (PVSE:
    `pvse.diagnostics.attention_activity`), None when the method exposes none.
    """
    kv, kt = video_emb.shape[1], text_emb.shape[1]
    t2v = tables["t2v"]
    margin = t2v["margin"][np.isfinite(t2v["margin"])]
    out: dict[str, Any] = {
        "k": {"video": kv, "text": kt},
        "reduction": "max",
        "lse_temperature": LSE_TEMPERATURE if "lse" in reductions else None,
        "head_usage": {
            "video": usage(np.bincount(t2v["k_item"], minlength=kv)),
            "text": usage(np.bincount(t2v["k_query"], minlength=kt)),
        },
        "margin": {
            "mean": float(margin.mean()) if len(margin) else None,
            "median": float(np.median(margin)) if len(margin) else None,
        },
        "head_cosine": {"video": head_cosine(video_emb), "text": head_cosine(text_emb)},
        "attention": attention,
        "head_recall": None,
        "reductions": {},
    }
    if "head_ranks" in t2v:
        out["head_recall"] = [
            _recall_document(tables, lambda t, k=k: t["head_ranks"][:, k]) for k in range(kv)
        ]
    for r in check_reductions(reductions):
        out["reductions"][r] = _recall_document(tables, lambda t, r=r: t[f"rank_{r}"])
    return out


def _recall_document(tables: dict[str, dict[str, Any]], column: Any) -> dict[str, Any]:
    """{"t2v": R@k, "v2t": R@k, "rsum"} of one rank column of both tables."""
    doc: dict[str, Any] = {d: recalls(np.asarray(column(tables[d]))) for d in DIRECTIONS}
    doc["rsum"] = sum(sum(doc[d].values()) for d in DIRECTIONS)
    return doc


def write_parquet(tables: dict[str, dict[str, Any]], path: Any) -> None:
    """Both directions' tables as one Parquet file, a `direction` column first (atomic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mrw.core.atomic import atomic_write

    parts = []
    for direction, table in tables.items():
        columns: dict[str, Any] = {"direction": [direction] * len(table["query"])}
        for name, value in table.items():
            if isinstance(value, np.ndarray) and value.ndim == 2:
                columns[name] = pa.array(
                    list(value), type=pa.list_(pa.from_numpy_dtype(value.dtype))
                )
            elif name in ("relevant", "relevant_ranks"):
                columns[name] = pa.array([list(v) for v in value], type=pa.list_(pa.int32()))
            elif name == "text":
                columns[name] = pa.array(value, type=pa.string())
            elif name == "margin":
                columns[name] = pa.array(value, from_pandas=True)  # NaN -> null
            else:
                columns[name] = pa.array(value)
        parts.append(pa.table(columns))
    merged = pa.concat_tables(parts, promote_options="default")
    with atomic_write(path, "wb") as handle:
        pq.write_table(merged, handle, compression="zstd")


@dataclass
class SetAwareEvaluation:
    """The evaluator's `Evaluation`, the per-query tables (`per_query_table`) and the run
    summary (`summarise`) of one split."""

    evaluation: Evaluation
    tables: dict[str, dict[str, Any]]
    summary: dict[str, Any]


def evaluate_set_aware(
    method: Method,
    data: PairData,
    device: torch.device,
    batch_size: int = 256,
    reductions: Sequence[str] = (),
    attention_pairs: int = 1024,
) -> SetAwareEvaluation:
    """`mrw.bench.evaluator.evaluate` plus the set-aware evaluation, the similarity computed once.

    A method with the default similarity (the best cosine over K x K pairs) is ranked by the
    pass's max-reduced matrix, the same product as `Method.similarity`; a method with its own
    score (Order, Corr-AE) is ranked by `evaluator.similarity_matrix` as before, and the pass
    then runs on the cosines only when it has something to add (K > 1 or other reductions).
    The attention summary is `method.init_check` on the first `attention_pairs` pairs of the
    split, with the trained weights.
    """
    from mrw.bench.evaluator import encode, evaluate_scores, similarity_matrix
    from mrw.methods.base import Method as BaseMethod

    video_emb, text_emb = encode(method, data, device, batch_size)
    split = data.split
    passed = set_aware_pass(video_emb, text_emb, split.pair_video, reductions)
    default = getattr(type(method), "similarity", None) is BaseMethod.similarity
    scores = passed.scores
    if scores is None or not default:
        scores = similarity_matrix(method.similarity, video_emb, text_emb)
    evaluation = evaluate_scores(scores, split.video_ids, split.pair_ids, split.pair_video)
    tables = per_query_table(
        scores,
        video_emb,
        text_emb,
        split.pair_video,
        split.video_ids,
        split.pair_ids,
        passed,
        split.sentences,
        (evaluation.t2v_ranks, evaluation.v2t_ranks),
    )
    batch = data.batch(torch.arange(min(attention_pairs, data.num_pairs))).to(device)
    check = method.init_check(batch)
    attention = {k: v for k, v in check.items() if k != "warning"} if check else None
    summary = summarise(tables, video_emb, text_emb, reductions, attention)
    return SetAwareEvaluation(evaluation, tables, summary)
