"""The scorer against trec_eval (pytrec_eval): one- and multi-positive qrels of a toy collection
with planted near-duplicates, full and truncated runs with ties, queries missing from the run.

Per query, our AP, nDCG@10, success@k and first-relevant rank must equal trec_eval's `map`,
`ndcg_cut_10`, `success_k` and 1 / `recip_rank`; a query missing from the run scores 0
(trec_eval `-c`), and the reported means are the means over every query.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from leaderboard.metrics import NOT_FOUND, interval, query_ap_ndcg
from leaderboard.parse import parse_run
from leaderboard.qrels import read_qrels, write_qrels
from leaderboard.score import first_relevant_ranks, ranking_metrics
from mrw.dataset.qrels import multi_positive_pairs

pytrec_eval = pytest.importorskip(
    "pytrec_eval", reason="pytrec_eval is in the bench extra: pip install -e '.[bench]'"
)

N_VIDEOS = 30
# Planted near-duplicate groups: separate clip ids of the same reaction.
GROUPS = (("v00", "v01", "v02"), ("v05", "v06"), ("v10", "v11", "v12", "v13"), ("v20", "v29"))


def _collection() -> tuple[list[str], list[str], dict[str, str]]:
    """Sentences and their videos (v03 and v11 have two titles, like TGIF's), and the groups."""
    videos = [f"v{i:02d}" for i in range(N_VIDEOS)]
    video_of = [*videos, "v03", "v11"]
    sentences = [f"s{i:02d}" for i in range(len(video_of))]
    group_of = {video: group[0] for group in GROUPS for video in group}
    return sentences, video_of, group_of


def _truth(root: Path, relevance: str) -> dict[str, Path]:
    sentences, video_of, group_of = _collection()
    pairs = multi_positive_pairs(
        sentences, video_of, group_of if relevance != "one-positive" else None
    )
    paths = {}
    for direction, judged in pairs.items():
        if relevance == "graded":  # own item grade 2, a near-duplicate's grade 1
            own = dict(zip(sentences, video_of, strict=True))
            judged = [(q, d, 2 if own.get(q, q) == own.get(d, d) else 1) for q, d in judged]
        paths[direction] = root / f"{direction}.qrels"
        write_qrels(paths[direction], judged)
    return paths


def _write_run(
    path: Path, queries: list[str], docs: list[str], depth: int, seed: int, ranked: bool
) -> None:
    """Scores on a coarse grid (many ties), each query's `depth` best lines in shuffled order
    (or, `ranked`, in trec_eval's order, as run files are written), and two queries left
    out."""
    rng = np.random.default_rng(seed)
    by_id = np.argsort([d.encode() for d in docs])[::-1]  # document id descending, as bytes
    lines = []
    for q in queries[2:]:
        scores = np.round(rng.random(len(docs)), 1)
        keep = by_id[np.argsort(-scores[by_id], kind="stable")][:depth]
        for rank, d in enumerate(keep if ranked else rng.permutation(keep), start=1):
            lines.append(f"{q} Q0 {docs[d]} {rank} {scores[d]:.1f} toy\n")
    path.write_text("".join(lines))


@pytest.mark.parametrize(
    ("layout", "passes"),  # shuffled: queries listing more relevant than `passes` are sorted
    [("shuffled", 32), ("shuffled", 2), ("shuffled", 1), ("ranked", 32)],
)
@pytest.mark.parametrize("relevance", ["one-positive", "multi-positive", "graded"])
@pytest.mark.parametrize("depth", [None, 12, 7, 3])
def test_scorer_equals_trec_eval(
    tmp_path: Path, monkeypatch, relevance: str, depth: int | None, layout: str, passes: int
) -> None:
    """Lines in any order (ranks counted) and each query's lines in rank order (ranks are
    places, `_ranked_blocks`) score as trec_eval does."""
    from leaderboard.score import _ranked_blocks

    monkeypatch.setattr("leaderboard.score.RANK_PASSES", passes)
    truth = _truth(tmp_path, relevance)
    for seed, direction in enumerate(("t2v", "v2t")):
        qrels = read_qrels(truth[direction])
        gallery = list(qrels.doc_ids)
        run_path = tmp_path / f"{direction}.run"
        depth_or_all = depth or len(gallery)
        _write_run(run_path, list(qrels.query_ids), gallery, depth_or_all, seed, layout == "ranked")

        parsed = parse_run(run_path, qrels)
        assert (_ranked_blocks(parsed, qrels.doc_order) is not None) == (layout == "ranked")
        ranking = first_relevant_ranks(parsed, qrels)
        if relevance == "one-positive" and direction == "t2v":
            assert ranking.relevant is None  # one relevant document per query: the fast path
        ap, ndcg = query_ap_ndcg(ranking.ranks, ranking.relevant)
        with open(truth[direction]) as handle:
            judged = pytrec_eval.parse_qrel(handle)
        with open(run_path) as handle:
            run = pytrec_eval.parse_run(handle)
        measures = {"map", "ndcg_cut.10", "success.1,5,10", "recip_rank"}
        theirs = pytrec_eval.RelevanceEvaluator(judged, measures).evaluate(run)

        ids = [qrels.query_ids[i] for i in qrels.scored_queries]
        missing = [q for q in ids if q not in theirs]
        assert len(missing) == 2 and ranking.missing_queries == 2
        zero = dict.fromkeys(("map", "ndcg_cut_10", "success_1", "success_5", "success_10"), 0.0)
        per_query = [theirs.get(q, {**zero, "recip_rank": 0.0}) for q in ids]
        assert ap.tolist() == [t["map"] for t in per_query]
        assert ndcg.tolist() == pytest.approx([t["ndcg_cut_10"] for t in per_query], abs=1e-15)
        first = [round(1 / t["recip_rank"]) if t["recip_rank"] else NOT_FOUND for t in per_query]
        assert ranking.ranks.tolist() == first

        metrics = ranking_metrics(ranking, qrels)
        n = len(ids)
        assert interval(metrics.mean_ap)[0] == math.fsum(t["map"] for t in per_query) / n
        assert interval(metrics.ndcg)[0] == pytest.approx(
            math.fsum(t["ndcg_cut_10"] for t in per_query) / n, abs=1e-15
        )
        for k in (1, 5, 10):
            expected = 100 * math.fsum(t[f"success_{k}"] for t in per_query) / n
            assert interval(metrics.recall[k])[0] == pytest.approx(expected, abs=1e-12)
        several = relevance != "one-positive" or direction == "v2t"
        assert (ranking.relevant is not None) == several


def test_multi_positive_pairs_of_the_planted_groups() -> None:
    sentences, video_of, group_of = _collection()
    one = multi_positive_pairs(sentences, video_of, None)
    multi = multi_positive_pairs(sentences, video_of, group_of)
    assert one["t2v"] == list(zip(sentences, video_of, strict=True))
    relevant_to_s00 = [d for q, d in multi["t2v"] if q == "s00"]
    assert relevant_to_s00 == ["v00", "v01", "v02"]  # its own clip first
    # v11 has two titles and three near-duplicates: all five titles are relevant to each
    relevant_to_v12 = {d for q, d in multi["v2t"] if q == "v12"}
    assert relevant_to_v12 == {"s10", "s11", "s12", "s13", "s31"}
    # a group member outside the split is not judged: only the split's videos are documents
    half = multi_positive_pairs(sentences[:11], video_of[:11], group_of)
    assert {d for q, d in half["t2v"] if q == "s10"} == {"v10"}
    assert len(multi["t2v"]) == len(sentences) + sum(
        len(g) - 1 for g in GROUPS for v in video_of if v in g
    )
