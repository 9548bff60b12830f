"""First-relevant ranks -> typed retrieval metrics: the one scoring path.

The harness (ranks from full similarity matrices, always exact) and the leaderboard scorer
(ranks from possibly truncated run files) both call `ranks_to_metrics`, so a number on the
board and a number in a run record are computed by the same lines.

Values a truncated run cannot determine are `Bound`s (censored values), never strings: a
`Bound` knows which side it bounds, so tables can refuse to call it best and sort it after
every known value it cannot be shown to beat (`pessimistic_key`, `best_indices`). On disk
(the scorer's `--json` document, `metrics.json`) a bound is written as the string
`">= 50"` / `"> 5"`, exactly as before; `Metrics.from_json` reads it back as a `Bound`.

R@k is the percentage of queries with at least one relevant document in the top k. With one
relevant document per query (text-to-video) that is recall@k; with several (a TGIF video has
several relevant sentences, a multi-positive qrels counts near-duplicates) it is Success@k,
the hit rate of ir-measures, not the fraction of relevant documents retrieved. mAP and
nDCG@10 are trec_eval's `map` and `ndcg_cut_10` (fractions in [0, 1]); they need the rank of
every relevant document, which a `RelevantRanks` carries when a query has more than one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from leaderboard.errors import LeaderboardError

RECALL_KS: tuple[int, ...] = (1, 5, 10)
NDCG_CUTOFF = 10  # nDCG@10: trec_eval's ndcg_cut_10
NOT_FOUND = 0  # rank value for "no relevant document within the run's depth" (or query missing)
# The two directions in the order every table, page and document lists them.
DIRECTIONS: tuple[str, ...] = ("t2v", "v2t")
DIRECTION_NAMES: dict[str, str] = {"t2v": "Text → Video", "v2t": "Video → Text"}
METRICS_FORMAT_VERSION = 1  # of `Metrics.to_disk` files; the scorer's --json is the payload

BoundKind = Literal[">=", ">", "<=", "<"]
Better = Literal["max", "min"]


class MetricsFormatError(LeaderboardError):
    """A metrics document that cannot be read as `Metrics`."""


@dataclass(frozen=True)
class Bound:
    """A censored metric value: the true value is `kind` `value` (e.g. MedR > 5).

    Lower bounds (`>=`, `>`) come from truncated runs: recalls at k beyond the run's depth,
    MeanR, MedR when at most half the queries are found within depth, and rsum.
    """

    value: float
    kind: BoundKind

    def __post_init__(self) -> None:
        if self.kind not in (">=", ">", "<=", "<"):
            raise ValueError(f"unknown bound kind {self.kind!r}")
        if not math.isfinite(self.value):
            raise ValueError("a bound needs a finite value")

    @property
    def is_lower(self) -> bool:
        """Whether this is a lower bound (`>=` or `>`)."""
        return self.kind in (">=", ">")

    def interval(self) -> tuple[float, float]:
        """(lowest, highest) value the true value may take (closed, for comparisons)."""
        return (self.value, math.inf) if self.is_lower else (-math.inf, self.value)

    def __str__(self) -> str:
        return f"{self.kind} {_number(self.value)}"

    @classmethod
    def parse(cls, text: str) -> Bound:
        """`">= 50"` / `"> 5"` (the on-disk form) -> `Bound`; `ValueError` otherwise."""
        for kind in (">=", "<=", ">", "<"):
            if text.startswith(kind):
                return cls(float(text[len(kind) :]), kind)  # type: ignore[arg-type]
        raise ValueError(f"not a bound: {text!r}")


Value = float | int | Bound  # a metric value: exact number or censored


def _number(value: float) -> str:
    """An integer without ".0", else the shortest text that reads back as the same float."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def value_to_json(value: Value | None) -> float | int | str | None:
    """The on-disk form: numbers as they are, a `Bound` as its string (`">= 50"`)."""
    return str(value) if isinstance(value, Bound) else value


def value_from_json(value: Any) -> Value | None:
    """Inverse of `value_to_json`; raises `MetricsFormatError` for anything else."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    if isinstance(value, str):
        try:
            return Bound.parse(value.strip())
        except ValueError:
            pass
    raise MetricsFormatError(f"not a metric value: {value!r}")


def interval(value: Value | None) -> tuple[float, float]:
    """(lowest, highest) the true value may take; an exact value is a point, None is empty."""
    if value is None:
        return (math.nan, math.nan)
    if isinstance(value, Bound):
        return value.interval()
    return (float(value), float(value))


def pessimistic_key(value: Value | None, better: Better) -> float:
    """The worst value `value` may truly take, oriented so that larger sorts first.

    Sorting by it puts a censored value after every known value it cannot be shown to beat:
    a MedR `> 3` (lower is better) gets -inf, after every known MedR; a recall `>= 50`
    (higher is better) gets 50, just after a known 50. None (no value) gets NaN.
    """
    low, high = interval(value)
    key = low if better == "max" else -high
    if isinstance(value, Bound) and math.isfinite(key):
        key = math.nextafter(key, -math.inf)  # a bound `>= x` cannot be shown to tie a known x
    return key


def best_indices(values: Sequence[Value | None], better: Better) -> set[int]:
    """Positions of the best value(s) of a column, honest about censored values.

    The best known value is marked unless some value is certainly better than it; a censored
    value is marked only when it is certainly at least as good as every other value (a lower
    bound on a lower-is-better metric, or an upper bound on a higher-is-better one, never is).
    """
    sign = 1.0 if better == "max" else -1.0
    # Oriented intervals: (certainly at least, at most), larger is better.
    spans = {}
    for i, value in enumerate(values):
        low, high = interval(value)
        if math.isnan(low):
            continue
        spans[i] = (low, high) if sign > 0 else (-high, -low)
    exact = [i for i in spans if not isinstance(values[i], Bound)]
    censored = [i for i in spans if isinstance(values[i], Bound)]
    certain = [i for i in censored if all(spans[i][0] >= spans[j][1] for j in spans if j != i)]
    if certain:
        return set(certain)
    if not exact:
        return set()
    top = max(spans[i][0] for i in exact)
    if any(spans[j][0] > top for j in censored):
        return set()
    return {i for i in exact if spans[i][0] == top}


_ATTRIBUTES = {
    "MedR": "medr",
    "MeanR": "meanr",
    "nMR": "nmr",
    "mAP": "mean_ap",
    f"nDCG@{NDCG_CUTOFF}": "ndcg",
    "queries": "queries",
    "missing_queries": "missing_queries",
}


@dataclass(frozen=True)
class DirectionMetrics:
    """Metrics of one retrieval direction (see `ranks_to_metrics` for the conventions).

    `recall` maps k to R@k (percent); `medr` and `meanr` are 1-based ranks, `nmr` is
    MedR / gallery size; `mean_ap` and `ndcg` are trec_eval's `map` and `ndcg_cut_10` (fractions;
    None in documents written before they existed); each may be a `Bound` for a truncated
    run, None with no queries.
    """

    recall: Mapping[int, Value]
    medr: int | Bound | None
    meanr: float | Bound | None
    nmr: float | Bound | None
    queries: int
    missing_queries: int = 0
    mean_ap: float | Bound | None = None
    ndcg: float | Bound | None = None

    def value(self, name: str) -> Value | None:
        """A metric by its standard name: `"R@10"`, `"MedR"`, `"MeanR"`, `"nMR"`, `"mAP"`,
        `"nDCG@10"`, `"queries"`, `"missing_queries"`; `KeyError` for any other name."""
        if name.startswith("R@") and name[2:].isdigit() and int(name[2:]) in self.recall:
            return self.recall[int(name[2:])]
        attribute = _ATTRIBUTES.get(name)
        if attribute is None:
            raise KeyError(name)
        return getattr(self, attribute)

    def to_json(self) -> dict[str, Any]:
        """`{"R@k": ..., "MedR", "MeanR", "nMR", "mAP", "nDCG@10", "queries",
        "missing_queries"}`; bounds as str; mAP and nDCG@10 left out when None."""
        out: dict[str, Any] = {f"R@{k}": value_to_json(v) for k, v in self.recall.items()}
        out.update(MedR=value_to_json(self.medr), MeanR=value_to_json(self.meanr))
        out["nMR"] = value_to_json(self.nmr)
        if self.mean_ap is not None:
            out["mAP"] = value_to_json(self.mean_ap)
        if self.ndcg is not None:
            out[f"nDCG@{NDCG_CUTOFF}"] = value_to_json(self.ndcg)
        out.update(queries=self.queries, missing_queries=self.missing_queries)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DirectionMetrics:
        """Inverse of `to_json`.

        Raises:
            MetricsFormatError: If `queries` is missing or a value cannot be read.
        """
        try:
            recall = {
                int(key[2:]): value_from_json(value)
                for key, value in sorted(
                    (item for item in data.items() if item[0].startswith("R@")),
                    key=lambda item: int(item[0][2:]),
                )
            }
            return cls(
                recall=recall,
                medr=value_from_json(data.get("MedR")),
                meanr=value_from_json(data.get("MeanR")),
                nmr=value_from_json(data.get("nMR")),
                queries=int(data["queries"]),
                missing_queries=int(data.get("missing_queries", 0)),
                mean_ap=value_from_json(data.get("mAP")),  # type: ignore[arg-type]
                ndcg=value_from_json(data.get(f"nDCG@{NDCG_CUTOFF}")),  # type: ignore[arg-type]
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise MetricsFormatError(f"not a direction's metrics ({exc})") from None


@dataclass(frozen=True)
class Metrics:
    """Both directions and rsum: the scorer's `--json` document, typed.

    `to_json()` is that document (`{"t2v": {...}, "v2t": {...}, "rsum": ...}`, bounds as
    strings); `to_disk` adds `format_version` around it.
    """

    t2v: DirectionMetrics
    v2t: DirectionMetrics
    rsum: float | Bound

    def direction(self, name: str) -> DirectionMetrics:
        """The metrics of direction `"t2v"` or `"v2t"`; `KeyError` for any other name."""
        if name not in DIRECTIONS:
            raise KeyError(name)
        return self.t2v if name == "t2v" else self.v2t

    @property
    def exact(self) -> bool:
        """Whether no value is censored (a full-depth run: what the harness always writes)."""
        values = [self.rsum]
        for d in (self.t2v, self.v2t):
            values += [*d.recall.values(), d.medr, d.meanr, d.nmr, d.mean_ap, d.ndcg]
        return not any(isinstance(v, Bound) for v in values)

    def to_json(self) -> dict[str, Any]:
        """The scorer's `--json` document: `{"t2v": {...}, "v2t": {...}, "rsum": ...}`."""
        return {
            "t2v": self.t2v.to_json(),
            "v2t": self.v2t.to_json(),
            "rsum": value_to_json(self.rsum),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Metrics:
        """Read the scorer's document (any version so far: bounds were always strings)."""
        if not isinstance(data, Mapping) or not all(k in data for k in (*DIRECTIONS, "rsum")):
            raise MetricsFormatError("metrics need t2v, v2t and rsum")
        version = data.get("format_version", METRICS_FORMAT_VERSION)
        if version != METRICS_FORMAT_VERSION:
            raise MetricsFormatError(f"metrics format_version {version} is not supported")
        rsum_value = value_from_json(data["rsum"])
        if rsum_value is None:
            raise MetricsFormatError("rsum is missing")
        return cls(
            DirectionMetrics.from_json(data["t2v"]),
            DirectionMetrics.from_json(data["v2t"]),
            rsum_value,  # type: ignore[arg-type]
        )

    def to_disk(self, path: str | os.PathLike[str]) -> Path:
        """Write `{"format_version": 1, **to_json()}` atomically; returns the path."""
        from mrw.core.atomic import atomic_write

        with atomic_write(path, "w") as handle:
            json.dump(
                {"format_version": METRICS_FORMAT_VERSION, **self.to_json()}, handle, indent=2
            )
            handle.write("\n")
        return Path(path)

    @classmethod
    def from_disk(cls, path: str | os.PathLike[str]) -> Metrics:
        """Read a file written by `to_disk` or a saved `mrw-leaderboard score --json`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MetricsFormatError(f"{path}: cannot read metrics ({exc})") from None
        try:
            return cls.from_json(data)
        except MetricsFormatError as exc:
            raise MetricsFormatError(f"{path}: {exc}") from None


@dataclass(frozen=True)
class RelevantRanks:
    """The rank of every relevant (query, document) pair of a qrels, for mAP and nDCG.

    Only needed when some query has more than one relevant document; with one per query the
    first-relevant ranks already hold everything.

    Attributes:
        query: `[P]` int64 position of the pair's query in the first-relevant `ranks` array
            (every query there has at least one pair).
        rank: `[P]` int64 1-based rank of the pair's document, `NOT_FOUND` (0) when the run
            does not list it (or the query is missing).
        gain: `[P]` float64 relevance grade of the pair (trec_eval's gain; 1 for binary
            qrels, which is what `mrw qrels` writes).
    """

    query: np.ndarray
    rank: np.ndarray
    gain: np.ndarray

    def truncated(self, depth: int) -> RelevantRanks:
        """The ranks a depth-`depth` run shows: deeper ones become `NOT_FOUND`."""
        rank = np.where(self.rank <= depth, self.rank, NOT_FOUND)
        return RelevantRanks(self.query, rank, self.gain)

    def first(self, n_queries: int) -> np.ndarray:
        """`[n_queries]` int64 first-relevant ranks (`NOT_FOUND` when none is ranked)."""
        best = np.full(n_queries, np.iinfo(np.int64).max)
        found = self.rank != NOT_FOUND
        np.minimum.at(best, self.query[found], self.rank[found])
        return np.where(best == np.iinfo(np.int64).max, NOT_FOUND, best)


def _within_query(query: np.ndarray) -> np.ndarray:
    """1-based position of each element among the equal values of sorted `query`."""
    return np.arange(query.size) - np.searchsorted(query, query) + 1


def query_ap_ndcg(
    ranks: np.ndarray, relevant: RelevantRanks | None = None, cutoff: int = NDCG_CUTOFF
) -> tuple[np.ndarray, np.ndarray]:
    """Per-query average precision and nDCG@cutoff, exactly as trec_eval computes them.

    trec_eval (`m_map.c`, `m_ndcg_cut.c`): AP = the sum, over the relevant documents the run
    ranks, of the precision at their rank, divided by the query's relevant documents in the
    qrels; nDCG@k = DCG@k / ideal DCG@k with DCG@k = sum over ranks r <= k of
    gain / log2(r + 1) and the ideal DCG from the qrels' gains in decreasing order. Sums run
    in rank order, as trec_eval's loops do. A query missing from the run scores 0 (trec_eval
    `-c`).

    Args:
        ranks: `[Nq]` first-relevant 1-based ranks, `NOT_FOUND` (0) for none.
        relevant: every relevant pair's rank; None when every query has exactly one relevant
            document (then AP = 1 / rank and nDCG = 1 / log2(rank + 1), whatever its gain).
        cutoff: nDCG's cut-off k.

    Returns:
        `([Nq] AP, [Nq] nDCG@cutoff)`, float64 in [0, 1].
    """
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    n = ranks.size
    if relevant is None:
        found = ranks != NOT_FOUND
        safe = np.where(found, ranks, 1).astype(np.float64)
        ap = np.where(found, 1.0 / safe, 0.0)
        return ap, np.where(found & (ranks <= cutoff), 1.0 / np.log2(safe + 1.0), 0.0)
    query = np.asarray(relevant.query, dtype=np.int64)
    rank = np.asarray(relevant.rank, dtype=np.int64)
    gain = np.asarray(relevant.gain, dtype=np.float64)
    hit = rank != NOT_FOUND
    order = np.lexsort((rank[hit], query[hit]))
    hit_query, hit_rank, hit_gain = query[hit][order], rank[hit][order], gain[hit][order]
    precision = _within_query(hit_query) / hit_rank
    n_relevant = np.bincount(query, minlength=n)
    ap = np.bincount(hit_query, weights=precision, minlength=n) / np.maximum(n_relevant, 1)
    top = hit_rank <= cutoff
    dcg = np.bincount(
        hit_query[top], weights=hit_gain[top] / np.log2(hit_rank[top] + 1.0), minlength=n
    )
    ideal_order = np.lexsort((-gain, query))
    ideal_query, ideal_gain = query[ideal_order], gain[ideal_order]
    position = _within_query(ideal_query)
    kept = position <= cutoff
    ideal = np.bincount(
        ideal_query[kept], weights=ideal_gain[kept] / np.log2(position[kept] + 1.0), minlength=n
    )
    ndcg = np.divide(dcg, ideal, out=np.zeros(n), where=ideal > 0)
    return ap, ndcg


def ranks_to_metrics(
    ranks: np.ndarray,
    gallery_size: int,
    depth: int | None = None,
    missing_queries: int = 0,
    relevant: RelevantRanks | None = None,
) -> DirectionMetrics:
    """Metrics of one retrieval direction.

    Args:
        ranks: `[Nq]` integer array: per query, the 1-based rank of its first relevant
            document, or `NOT_FOUND` (0) when none is within `depth` (queries absent from a
            run included, and counted in `missing_queries`).
        gallery_size: number of documents ranked per query (> 0).
        depth: the run's depth; None means full depth (every rank is known except missing
            queries).
        missing_queries: how many of the `NOT_FOUND` queries were absent from the run.
        relevant: the rank of every relevant pair (`RelevantRanks`), needed for mAP and
            nDCG@10 when some query has several relevant documents; None means exactly one
            per query (the fast path: `ranks` then holds everything).

    Returns:
        `DirectionMetrics`, with the conventions of the VSE++/PVSE evaluation code behind
        published numbers: R@k is the percentage of queries with a relevant document in the
        top k (Success@k when a query has several); MedR is floor(median of 0-based ranks)
        + 1; MeanR is the mean 1-based rank; nMR = MedR / gallery size; mAP and nDCG@10 are
        trec_eval's `map` and `ndcg_cut_10` on the run as given (`query_ap_ndcg`), averaged
        over every query, missing ones as 0 (trec_eval `-c`). Values a truncated run cannot
        determine are lower `Bound`s: R@k for k > depth (`>=`), MeanR (`>=`, misses counted
        at depth + 1), MedR and nMR (`>`) when at most half the queries are found, mAP
        (`>=`) when a relevant document is not ranked, nDCG@10 (`>=`) when depth < 10 and one
        is not ranked.

    Raises:
        ValueError: `gallery_size` is not positive.
    """
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    if gallery_size <= 0:
        raise ValueError("gallery_size must be positive")
    n = int(ranks.size)
    d = gallery_size if depth is None else int(depth)
    found = ranks != NOT_FOUND
    recall: dict[int, Value] = {}
    for k in RECALL_KS:
        hit = 100.0 * float(np.count_nonzero(found & (ranks <= k))) / n if n else 0.0
        exact = k <= d or bool(found.all())
        recall[k] = hit if exact else Bound(hit, ">=")
    medr: int | Bound | None = None
    nmr: float | Bound | None = None
    meanr: float | Bound | None = None
    mean_ap: float | Bound | None = None
    ndcg: float | Bound | None = None
    if n:
        zero_based = np.where(found, ranks - 1, np.inf).astype(np.float64)
        median = float(np.median(zero_based))
        if math.isfinite(median):
            medr = math.floor(median) + 1
            nmr = medr / gallery_size
        else:
            medr, nmr = Bound(d, ">"), Bound(d / gallery_size, ">")
        mean = float(np.where(found, ranks, d + 1).mean())
        meanr = mean if found.all() else Bound(mean, ">=")
        ap, gains = query_ap_ndcg(ranks, relevant)
        all_ranked = bool(found.all() if relevant is None else (relevant.rank != NOT_FOUND).all())
        # Correctly rounded means: the same value whatever order the queries come in (the
        # harness lists them in split order, a qrels file in its own).
        mean_ap = math.fsum(ap.tolist()) / n
        ndcg = math.fsum(gains.tolist()) / n
        if not (all_ranked or d >= gallery_size):
            mean_ap = Bound(mean_ap, ">=")
        if not (all_ranked or d >= NDCG_CUTOFF):
            ndcg = Bound(ndcg, ">=")
    return DirectionMetrics(recall, medr, meanr, nmr, n, int(missing_queries), mean_ap, ndcg)


def rsum(t2v: DirectionMetrics, v2t: DirectionMetrics) -> float | Bound:
    """Sum of the six recalls (R@1, R@5, R@10 of both directions); a lower `Bound` when any
    recall is one."""
    values = [m.recall[k] for m in (t2v, v2t) for k in RECALL_KS]
    total = float(sum(interval(v)[0] for v in values))
    return Bound(total, ">=") if any(isinstance(v, Bound) for v in values) else total


def combine(t2v: DirectionMetrics, v2t: DirectionMetrics) -> Metrics:
    """Both directions and their rsum (the scorer's `--json` document, typed)."""
    return Metrics(t2v, v2t, rsum(t2v, v2t))
