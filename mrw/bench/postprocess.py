"""Score post-processing as a labelled axis: dual softmax, QB-Norm, inverted softmax.

Post-processing rewrites a direction's `[queries, gallery]` similarity matrix before ranking.
Three are in use in the field, and each has been reported without saying so:

- **DSL**, the dual softmax at inference (Cheng et al. 2021, "Improving Video-Text Retrieval
  by Multi-Stream Corpus Alignment and Dual Softmax Loss", arXiv:2109.04290; the CLIP4Clip
  family's evaluation code: `sim * softmax(sim * 100, axis=0)`): each score is multiplied by
  a softmax over the *query* axis, the prior that this gallery item is retrieved by this
  query rather than another one of the evaluated set. It needs the whole query set at once.
- **Inverted softmax** (Smith et al. 2017, "Offline bilingual word vectors, orthogonal
  transformations and the inverted softmax", ICLR): each score becomes `exp(beta * s)`
  divided by the item's summed `exp(beta * s)` over a query bank, so an item close to every
  query (a hub) loses its lead.
- **QB-Norm** with the dynamic inverted softmax (Bogolin et al., CVPR 2022, "Cross Modal
  Retrieval with Querybank Normalisation"; `ioanacroi/qb-norm`,
  `dynamic_inverted_softmax.py`): the inverted softmax applied only to the queries whose raw
  top-1 item is in the *activation set*, the items among the top-k of some bank query; the
  other queries keep their raw scores.

Here the query bank is drawn from the training split, never from the test queries, so QB-Norm
and the inverted softmax score each test query on its own. The harness reports every
post-processing beside the raw result, never instead of it (`evaluate_postprocessing`), with
a realistic-stream check (`stream_check`): the same post-processing over the query set
shuffled with some queries repeated, and over one query at a time, which shows how much of
a gain needs the whole test query set at once.

Every function takes torch fp32 tensors (CPU or CUDA), rows = the queries of one direction
(`t2v`: sentences x videos; `v2t`: videos x sentences). Passes over a whole matrix go in row
chunks of at most `CHUNK_BYTES`, so intermediates stay bounded whatever the size (MRW test:
5,000 x 5,000; a TGIF sentence gallery: 34K).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from leaderboard.metrics import DIRECTIONS, DirectionMetrics, Metrics, combine, ranks_to_metrics
from mrw.bench.evaluator import CHUNK_BYTES, matrix_first_relevant_ranks, tie_order
from mrw.core.cliargs import integer, number
from mrw.core.errors import MRWError

if TYPE_CHECKING:
    from mrw.bench.data import PairData
    from mrw.methods.base import Method

DSL_TEMPERATURE = 0.01  # CLIP's logit scale 100: `softmax(sim * 100)` in the CLIP4Clip family
# DSL's softmax axis for v2t: "queries" (the videos, as for t2v) or "gallery" (the sentences:
# the CLIP4Clip-family code's v2t, the t2v matrix after DSL, transposed).
DSL_V2T_SOFTMAX = ("queries", "gallery")
QB_K = 1  # dynamic_inverted_softmax.py: args.get("k", 1)
QB_BETA = 20.0  # dynamic_inverted_softmax.py: args.get("beta", 20); README: "20"
BANK_SIZE = 5000  # train queries drawn for the bank (fewer when the split has fewer)
BANK_SPLIT = "train"
STREAM_MAX_REPEATS = 4  # the shuffled stream repeats each query 1..this many times
# The accepted range of each numeric parameter: (low, high, low excluded). They cover the
# values in use, DSL's 0.01 (CLIP's logit scale 100) and qb-norm's k 1 and beta 20
# (`dynamic_inverted_softmax.py`), by two or more orders of magnitude, and stop before the
# scores lose every digit (a temperature of 1e-300 or a beta of 1e300 gives +-inf or 0).
PARAMETER_RANGES: dict[str, tuple[float, float, bool]] = {
    "temperature": (1e-4, 100.0, False),
    "beta": (0.0, 1000.0, True),
    "k": (1, 1000, False),
}


class PostprocessError(MRWError):
    """An unknown post-processing, a bad parameter, or a bank that is missing or malformed."""


def _rows_per_chunk(matrix: Tensor, chunk_bytes: int) -> int:
    return max(1, chunk_bytes // max(4 * matrix.shape[1], 1))


def column_logsumexp(matrix: Tensor, scale: float, chunk_bytes: int = CHUNK_BYTES) -> Tensor:
    """`[N]` fp64 log sum_i exp(scale * matrix[i, j]) over the rows i of an `[M, N]` matrix,
    computed in row chunks (a running `logaddexp`), so no `[M, N]` exponential is ever held.
    In fp64: at scale 100 an fp32 sum would lose about five digits.

    An empty matrix (M = 0) gives -inf everywhere.
    """
    out = torch.full((matrix.shape[1],), float("-inf"), dtype=torch.float64, device=matrix.device)
    rows = _rows_per_chunk(matrix, chunk_bytes)
    for start in range(0, matrix.shape[0], rows):
        chunk = matrix[start : start + rows].double() * scale
        out = torch.logaddexp(out, torch.logsumexp(chunk, dim=0))
    return out


@torch.inference_mode()
def dual_softmax(
    scores: Tensor, temperature: float = DSL_TEMPERATURE, chunk_bytes: int = CHUNK_BYTES
) -> Tensor:
    """DSL at inference: `s'[i, j] = s[i, j] * softmax_i(s[:, j] / temperature)`.

    The softmax runs over the query axis (dim 0) of the matrix given, for each gallery item:
    CAMoE's prior "how likely is it that this item is retrieved by query i rather than by
    another query of the set" (Cheng et al. 2021; the CLIP4Clip-family evaluation
    code `sim_matrix * np_softmax(sim_matrix * 100, axis=0)` on a `[texts, videos]` matrix,
    i.e. temperature 0.01 on cosine scores). The harness applies it to each direction's own
    matrix, so for v2t the softmax runs over the video queries by default; that code
    instead reuses the t2v matrix transposed, a softmax over v2t's gallery, which is
    `dsl:v2t_softmax=gallery` (docs/harness.md).

    Args:
        scores: `[Nq, Ng]` float scores, rows = queries.
        temperature: > 0; the product is over raw scores, the softmax over scores / it.
        chunk_bytes: bound on one chunk's intermediates.
    Returns:
        `[Nq, Ng]` fp32. With one query (Nq = 1) the softmax is 1 and the scores are the raw
        ones: DSL's gain needs the other queries.
    """
    lse = column_logsumexp(scores, 1 / temperature, chunk_bytes)
    out = torch.empty(scores.shape, dtype=torch.float32, device=scores.device)
    rows = _rows_per_chunk(scores, chunk_bytes)
    for start in range(0, scores.shape[0], rows):
        chunk = scores[start : start + rows].double()  # fp64 in the chunk: see above
        out[start : start + rows] = (chunk * torch.exp(chunk / temperature - lse)).float()
    return out


@torch.inference_mode()
def inverted_softmax(scores: Tensor, normaliser: Tensor, beta: float = QB_BETA) -> Tensor:
    """The inverted softmax of scores against a bank normaliser, in log space.

    Smith et al. 2017 and Bogolin et al. 2022 score query i against item j
    by `exp(beta * s[i, j]) / sum_b exp(beta * bank[b, j])`; this returns its logarithm,
    `beta * s[i, j] - normaliser[j]` (the same ranking, and no overflow for scores that are
    not cosines).

    Args:
        scores: `[Nq, Ng]` float scores, rows = queries.
        normaliser: `[Ng]` fp64 `column_logsumexp(bank, beta)` of a `[B, Ng]` bank.
        beta: the inverse temperature the normaliser was computed with.
    Returns:
        `[Nq, Ng]` fp32 log-ratios.
    """
    return (scores.double() * beta - normaliser[None, :]).float()


def top_k_items(matrix: Tensor, k: int, chunk_bytes: int = CHUNK_BYTES) -> Tensor:
    """`[Ng]` bool: the items in the top `k` of at least one row of an `[M, Ng]` matrix.

    Ties are broken towards the lower item index (a stable sort of the descending scores);
    `ioanacroi/qb-norm` uses `np.argsort(-sims)`, whose order among ties is unspecified.
    """
    out = torch.zeros(matrix.shape[1], dtype=torch.bool, device=matrix.device)
    rows = _rows_per_chunk(matrix, chunk_bytes)
    for start in range(0, matrix.shape[0], rows):
        chunk = matrix[start : start + rows].float()
        top = torch.sort(chunk, dim=1, descending=True, stable=True).indices[:, :k]
        out[top.reshape(-1)] = True
    return out


@torch.inference_mode()
def qb_norm(
    scores: Tensor,
    normaliser: Tensor,
    active: Tensor,
    beta: float = QB_BETA,
    chunk_bytes: int = CHUNK_BYTES,
) -> Tensor:
    """QB-Norm with the dynamic inverted softmax (Bogolin et al. 2022).

    A query whose raw top-1 item (the first among tied maxima) is in the activation set
    `active` is scored by `inverted_softmax` (log space); every other query keeps its raw
    scores unchanged, as `dynamic_inverted_softmax.py` does. Ranks are per query, so mixing
    the two kinds of rows changes no ranking of either.

    Args:
        scores: `[Nq, Ng]` float scores, rows = queries.
        normaliser: `[Ng]` `column_logsumexp(bank, beta)`.
        active: `[Ng]` bool, `top_k_items(bank, k)`.
        beta: the inverse temperature.
    Returns:
        `[Nq, Ng]` fp32.
    """
    out = scores.float().clone()
    rows = _rows_per_chunk(scores, chunk_bytes)
    for start in range(0, scores.shape[0], rows):
        chunk = out[start : start + rows]
        activated = active[chunk.argmax(dim=1)]
        chunk[activated] = inverted_softmax(chunk[activated], normaliser, beta)
    return out


Scorer = Callable[[Tensor], Tensor]


@dataclass(frozen=True)
class Postprocess:
    """A named post-processing with its parameters: `label` is what a protocol card's
    `postprocess` field and a results row carry, e.g. `qb-norm(bank=train,n=5000,k=1,beta=20)`.

    `fit(bank)` returns the function that rewrites a `[Nq, Ng]` query matrix: for DSL the
    bank is unused and the function needs the whole query set; for the bank methods the
    bank (`[B, Ng]`, train queries against the evaluated gallery) is read once and every
    query is then scored on its own.
    """

    name: str
    params: tuple[tuple[str, float | int | str], ...]
    uses_bank: bool
    fitter: Callable[..., Scorer] = field(compare=False, repr=False)
    bank_size: int | None = None  # train pairs drawn for the bank (bank methods)

    @property
    def label(self) -> str:
        parts = [f"bank={BANK_SPLIT},n={self.bank_size}"] if self.uses_bank else []
        parts += [f"{key}={_number(value)}" for key, value in self.params]
        return f"{self.name}({','.join(parts)})"

    def fit(self, bank: Tensor | None = None, direction: str = "t2v") -> Scorer:
        """The query-matrix function of `direction` ("t2v" or "v2t"), given the `[B, Ng]` bank
        (required iff `uses_bank`).

        Raises:
            PostprocessError: a bank method without a bank, or an empty bank.
        """
        if self.uses_bank and (bank is None or bank.ndim != 2 or bank.shape[0] == 0):
            raise PostprocessError(f"{self.name} needs a non-empty [bank, gallery] matrix")
        return self.fitter(bank, direction, **dict(self.params))


def _number(value: float | str) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _fit_dsl(_bank: Tensor | None, direction: str, temperature: float, v2t_softmax: str) -> Scorer:
    if direction == "v2t" and v2t_softmax == "gallery":  # the softmax over each query's items
        return lambda scores: dual_softmax(scores.T, temperature).T
    return lambda scores: dual_softmax(scores, temperature)


def _fit_inverted_softmax(bank: Tensor, _direction: str, beta: float) -> Scorer:
    normaliser = column_logsumexp(bank, beta)
    return lambda scores: inverted_softmax(scores, normaliser, beta)


def _fit_qb_norm(bank: Tensor, _direction: str, k: int, beta: float) -> Scorer:
    normaliser, active = column_logsumexp(bank, beta), top_k_items(bank, k)
    return lambda scores: qb_norm(scores, normaliser, active, beta)


# name -> (uses a bank, default parameters in label order, fit)
REGISTRY: dict[str, tuple[bool, dict[str, float | int | str], Callable[..., Scorer]]] = {
    "dsl": (
        False,
        {"temperature": DSL_TEMPERATURE, "v2t_softmax": DSL_V2T_SOFTMAX[0]},
        _fit_dsl,
    ),
    "qb-norm": (True, {"k": QB_K, "beta": QB_BETA}, _fit_qb_norm),
    "inverted-softmax": (True, {"beta": QB_BETA}, _fit_inverted_softmax),
}


def make_postprocess(spec: str, bank_size: int = BANK_SIZE) -> Postprocess:
    """A `Postprocess` from `NAME` or `NAME:key=value,...` (e.g. `qb-norm:k=2,beta=10`,
    `dsl:v2t_softmax=gallery`).

    Raises:
        PostprocessError: an unknown name or parameter, a parameter given twice, a value
            that is not a number or outside its `PARAMETER_RANGES` entry (temperature in
            [1e-4, 100], beta in (0, 1000], k a whole number in [1, 1000]), a
            `v2t_softmax` other than `queries` or `gallery`.
    """
    name, _, rest = spec.strip().partition(":")
    if name not in REGISTRY:
        raise PostprocessError(f"unknown post-processing {name!r}; use {', '.join(REGISTRY)}")
    uses_bank, defaults, fit = REGISTRY[name]
    params, given = dict(defaults), set()
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or key not in defaults:
            raise PostprocessError(
                f"{name}: expected key=value with key among {', '.join(defaults)}, got {item!r}"
            )
        if key in given:
            raise PostprocessError(f"{name}: {key} is given twice; give each parameter once")
        given.add(key)
        params[key] = _parameter(name, key, text.strip(), defaults[key])
    size = bank_size if uses_bank else None
    return Postprocess(name, tuple(params.items()), uses_bank, fit, size)


def _parameter(name: str, key: str, text: str, default: float | str) -> float | int | str:
    """One parameter's value, of its default's type, checked (see `make_postprocess`)."""
    if isinstance(default, str):
        if text not in DSL_V2T_SOFTMAX:
            raise PostprocessError(f"{name}: {key} must be one of {', '.join(DSL_V2T_SOFTMAX)}")
        return text
    low, high, low_excluded = PARAMETER_RANGES[key]
    if isinstance(default, int):
        parse = integer(int(low), int(high))
    else:
        parse = number(low, high, above_minimum=low_excluded)
    try:
        return parse(text)
    except argparse.ArgumentTypeError as exc:
        raise PostprocessError(f"{name}: {key}: {exc}") from None


# --- evaluation: metrics of one direction, the stream check ---------------------------------


@dataclass(frozen=True)
class Direction:
    """One direction's relevance: (`rel_query[i]`, `rel_doc[i]`) pairs and the gallery ids
    (their trec_eval tie order)."""

    rel_query: Tensor
    rel_doc: Tensor
    doc_ids: Sequence[str]

    def metrics(self, scores: Tensor) -> DirectionMetrics:
        """The exact metrics of a `[Nq, Ng]` matrix of this direction."""
        order = tie_order(self.doc_ids, scores.device)
        ranks = matrix_first_relevant_ranks(scores, self.rel_query, self.rel_doc, order)
        return ranks_to_metrics(ranks, gallery_size=len(self.doc_ids))


def directions(pair_video: Tensor, video_ids: Sequence[str], sentence_ids: Sequence[str]) -> dict:
    """`{"t2v", "v2t": Direction}` of a split: sentence j's one relevant video is
    `pair_video[j]`; a video's relevant sentences are those pointing at it."""
    sentences = torch.arange(len(sentence_ids))
    return {
        "t2v": Direction(sentences, pair_video.cpu(), video_ids),
        "v2t": Direction(pair_video.cpu(), sentences, sentence_ids),
    }


def stream_order(queries: int, seed: int, max_repeats: int = STREAM_MAX_REPEATS) -> Tensor:
    """`[M]` query indices of a realistic stream: each query repeated 1..`max_repeats` times
    (uniformly, seeded), the whole shuffled. Uneven repeats matter: repeating every query
    the same number of times scales DSL's softmax by a constant and changes nothing."""
    generator = torch.Generator().manual_seed(seed)
    repeats = torch.randint(1, max_repeats + 1, (queries,), generator=generator)
    stream = torch.repeat_interleave(torch.arange(queries), repeats)
    return stream[torch.randperm(len(stream), generator=generator)]


def one_at_a_time(scorer: Scorer, scores: Tensor) -> Tensor:
    """`scorer` applied to each query alone (a `[1, Ng]` matrix per call), rows stacked."""
    out = torch.empty(scores.shape, dtype=torch.float32, device=scores.device)
    for i in range(scores.shape[0]):
        out[i : i + 1] = scorer(scores[i : i + 1])
    return out


def stream_check(
    scorer: Scorer, scores: Tensor, direction: Direction, seed: int
) -> dict[str, DirectionMetrics]:
    """One direction's metrics under the ways a post-processing can meet its queries.

    Args:
        scorer: a fitted post-processing (`Postprocess.fit`).
        scores: `[Nq, Ng]` raw scores of the evaluated queries, rows = queries.
        direction: the relevance of those queries.
        seed: the stream's shuffle and repeats (`stream_order`).
    Returns:
        `raw` (no post-processing), `full_set` (the evaluated query set at once, as
        reported), `shuffled_duplicated` (the stream of `stream_order`; each query's metrics
        taken from its first row: its copies score alike), `one_at_a_time` (each query
        alone). A post-processing that scores each query on its own (QB-Norm, inverted
        softmax with a train bank) gives the same numbers in the last three.
    """
    stream = stream_order(scores.shape[0], seed).to(scores.device)
    first = torch.full((scores.shape[0],), -1, dtype=torch.long, device=scores.device)
    positions = torch.arange(len(stream), device=scores.device)
    first = first.scatter_reduce(0, stream, positions, "amin", include_self=False)
    streamed = scorer(scores[stream])[first]
    return {
        "raw": direction.metrics(scores),
        "full_set": direction.metrics(scorer(scores)),
        "shuffled_duplicated": direction.metrics(streamed),
        "one_at_a_time": direction.metrics(one_at_a_time(scorer, scores)),
    }


STREAM_CASES = ("raw", "full_set", "shuffled_duplicated", "one_at_a_time")


def postprocessed_metrics(
    post: Postprocess,
    scores: Tensor,
    split_directions: dict[str, Direction],
    banks: dict[str, Tensor] | None,
    seed: int,
) -> dict[str, Any]:
    """One post-processing over both directions of a split: the record's entry.

    Args:
        post: the post-processing.
        scores: `[Nv, Nt]` raw test scores (the evaluator's matrix).
        split_directions: `directions(...)` of the split.
        banks: `{"t2v": [Bt, Nv], "v2t": [Bv, Nt]}` train-query scores (bank methods).
        seed: the stream check's seed (the run's).
    Returns:
        `{"label", "name", "params", "bank", "metrics" (the full-set metrics document),
        "stream_check": {case: metrics document}, "seconds"}`.
    """
    started = time.perf_counter()
    matrices = {"t2v": scores.T, "v2t": scores}
    cases: dict[str, dict[str, DirectionMetrics]] = {case: {} for case in STREAM_CASES}
    for name in DIRECTIONS:
        scorer = post.fit(banks[name] if post.uses_bank and banks else None, name)
        for case, value in stream_check(
            scorer, matrices[name], split_directions[name], seed
        ).items():
            cases[case][name] = value
    documents = {case: combine(m["t2v"], m["v2t"]).to_json() for case, m in cases.items()}
    return {
        "label": post.label,
        "name": post.name,
        "params": dict(post.params),
        "bank": (
            {
                "split": BANK_SPLIT,
                "drawn": post.bank_size,
                "seed": seed,
                **{d: int(banks[d].shape[0]) for d in DIRECTIONS},
            }
            if post.uses_bank and banks
            else None
        ),
        "metrics": documents["full_set"],
        "stream_check": {
            **{case: documents[case] for case in STREAM_CASES[2:]},
            "max_repeats": STREAM_MAX_REPEATS,
            "seed": seed,
        },
        "seconds": round(time.perf_counter() - started, 3),
    }


# --- the harness: banks from the train split, the run record's section ----------------------


def bank_pairs(train_pairs: int, size: int, seed: int) -> Tensor:
    """`[min(size, train_pairs)]` sorted train pair indices drawn without replacement with
    `seed`: their sentences are the t2v bank, their distinct videos the v2t bank."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randperm(train_pairs, generator=generator)[:size].sort().values


def bank_data(train: PairData, pairs: Tensor) -> PairData:
    """The train pairs at `pairs` as a `PairData` of their own (videos deduplicated, the
    sentences' tokens as already encoded), for `mrw.bench.evaluator.encode`."""
    from mrw.bench.data import PairData, SplitFeatures

    split = train.split
    videos, pair_video = torch.unique(split.pair_video[pairs], return_inverse=True)
    subset = SplitFeatures(
        video_ids=[split.video_ids[v] for v in videos.tolist()],
        features=split.features[videos],
        lengths=split.lengths[videos],
        pair_ids=[split.pair_ids[p] for p in pairs.tolist()],
        sentences=[split.sentences[p] for p in pairs.tolist()],
        pair_video=pair_video,
    )
    tokens = [train.tokens[p] for p in pairs.tolist()]
    return PairData(subset, None, lambda _sentences: tokens)  # type: ignore[arg-type]


@torch.inference_mode()
def evaluate_postprocessing(
    method: Method,
    test: PairData,
    train: PairData,
    scores: Tensor,
    posts: Sequence[Postprocess],
    seed: int,
    device: torch.device,
    batch_size: int = 256,
) -> dict[str, dict[str, Any]]:
    """Every post-processing of a run's test scores, for `metrics.json`'s `postprocessed`.

    The raw result is untouched: this reads `scores` and writes nothing. The bank methods'
    bank is `bank_pairs` of the train split (its size the smallest `bank_size` asked for, or
    the whole split when smaller, and the labels say which; the run's seed), encoded by the
    trained method and scored against the test gallery with `method.similarity`: t2v, train
    sentences x test videos; v2t, the distinct train videos x test sentences.

    Args:
        method: the trained method.
        test, train: the evaluated and the training split.
        scores: `[Nv, Nt]` raw test scores.
        posts: the post-processings, each reported under its label.
        seed: the run's seed (bank draw and stream check).
    Returns:
        label -> `postprocessed_metrics(...)`.
    """
    from mrw.bench.evaluator import encode, similarity_matrix

    banks = None
    banked = [p.bank_size for p in posts if p.uses_bank]
    if banked:
        pairs = bank_pairs(train.num_pairs, min(banked), seed)
        # The label names the bank actually drawn (a split smaller than the size asked for).
        posts = [replace(p, bank_size=len(pairs)) if p.uses_bank else p for p in posts]
        bank_video, bank_text = encode(method, bank_data(train, pairs), device, batch_size)
        test_video, test_text = encode(method, test, device, batch_size)
        banks = {
            "t2v": similarity_matrix(method.similarity, test_video, bank_text).T.contiguous(),
            "v2t": similarity_matrix(method.similarity, bank_video, test_text),
        }
    split = test.split
    split_directions = directions(split.pair_video, split.video_ids, split.pair_ids)
    return {
        post.label: postprocessed_metrics(post, scores, split_directions, banks, seed)
        for post in posts
    }


# --- tables: post-processed rows beside the raw ones ----------------------------------------


def postprocessed_rows(
    label: str, postprocessed: dict[str, dict[str, Any]] | None
) -> list[tuple[str, Metrics]]:
    """`(row label, full-set metrics)` of each post-processing of a run, for a metrics table
    printed beside the raw row: `{label} + {post-processing label}`."""
    return [
        (f"{label} + {entry['label']}", Metrics.from_json(entry["metrics"]))
        for entry in (postprocessed or {}).values()
    ]


def _mean(values: list[float]) -> str:
    return f"{float(np.mean(values)):.1f}"


def _card_id(entries: list[dict[str, Any]]) -> str:
    """` (card <id>)` of the entries' protocol card when they share one, else ""."""
    from mrw.core.protocol import card_from_document

    documents = [e.get("protocol_card") for e in entries]
    if not documents or None in documents or any(d != documents[0] for d in documents):
        return ""
    return f" (card {card_from_document(documents[0]).card_id})"


def postprocessed_markdown(groups: Sequence[Any]) -> str:
    """`compare`'s extra table: per experiment (a `mrw.bench.compare.RunGroup`) and
    post-processing, the mean over seeds of rsum raw, on the full test query set, on the
    shuffled stream with repeats, and one query at a time, plus the full-set R@1 of each
    direction. Empty when no run has post-processed results. These rows are never ranked
    with the raw ones."""
    from leaderboard.render import markdown_text

    lines = []
    for group in groups:
        labels: dict[str, list[dict[str, Any]]] = {}
        for run in group.runs:
            for key, entry in (run.postprocessed or {}).items():
                labels.setdefault(key, []).append({"raw": run.exact_metrics, **entry})
        for key, entries in labels.items():
            cells = [
                markdown_text(f"{group.label} + {key}{_card_id(entries)}"),
                str(len(entries)),
                _mean([e["metrics"]["t2v"]["R@1"] for e in entries]),
                _mean([e["metrics"]["v2t"]["R@1"] for e in entries]),
                _mean([e["raw"].rsum for e in entries if e["raw"] is not None] or [np.nan]),
                _mean([e["metrics"]["rsum"] for e in entries]),
                _mean([e["stream_check"]["shuffled_duplicated"]["rsum"] for e in entries]),
                _mean([e["stream_check"]["one_at_a_time"]["rsum"] for e in entries]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    if not lines:
        return ""
    header = (
        "| Post-processed (beside the raw row, never ranked with it) | Seeds | t2v R@1 | "
        "v2t R@1 | rsum raw | rsum full set | rsum shuffled + repeats | rsum one at a time |"
    )
    return "\n".join([header, "|" + "---|" * 8, *lines]) + "\n"
