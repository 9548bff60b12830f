"""The harness's run files: depth per dataset, size limit, and the scorer agreeing with the
harness (same ranks, same metrics) on the files the harness writes."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

from leaderboard.metrics import Bound
from leaderboard.parse import parse_run
from leaderboard.qrels import read_qrels, write_qrels
from leaderboard.runfile import top_columns
from leaderboard.score import first_relevant_ranks as scorer_ranks
from leaderboard.score import score_submission
from mrw.bench.evaluator import Evaluation, evaluate_scores
from mrw.bench.runfiles import (
    fitted_depth,
    resolve_depth,
    write_evaluation_runs,
)
from mrw.catalog import get_dataset


def synthetic(
    n_videos: int, per_video: int, seed: int, *, tied: bool = False, signal: float = 1.5
) -> Evaluation:
    """A noisy-identity score matrix over `n_videos` videos with `per_video` sentences each
    (TGIF-like when > 1), with ids shaped like the real ones."""
    gen = torch.Generator().manual_seed(seed)
    pair_video = torch.arange(n_videos).repeat_interleave(per_video)
    if tied:  # a coarse grid: most scores tie, so only the tie order decides ranks
        scores = torch.randint(0, 5, (n_videos, len(pair_video)), generator=gen).float() / 4
    else:
        scores = torch.randn(n_videos, len(pair_video), generator=gen)
    scores[pair_video, torch.arange(len(pair_video))] += signal
    video_ids = [f"tumblr_{(i * 7919) % 100003:05x}_{i}" for i in range(n_videos)]
    sentence_ids = [f"{video_ids[int(v)]}#{k % per_video}" for k, v in enumerate(pair_video)]
    return evaluate_scores(scores, video_ids, sentence_ids, pair_video)


def truth(root: Path, ev: Evaluation) -> Path:
    pairs = list(zip(ev.sentence_ids, (ev.video_ids[i] for i in _pair_video(ev)), strict=True))
    write_qrels(root / "t2v.qrels", pairs)
    write_qrels(root / "v2t.qrels", sorted(((v, s) for s, v in pairs), key=lambda p: p[0]))
    return root


def _pair_video(ev: Evaluation) -> list[int]:
    index = {v: i for i, v in enumerate(ev.video_ids)}
    return [index[s.rsplit("#", 1)[0]] for s in ev.sentence_ids]


def test_top_columns_equals_a_full_stable_sort_also_with_ties() -> None:
    rng = np.random.default_rng(0)
    for trial in range(200):
        n = int(rng.integers(1, 30))
        depth, rows = int(rng.integers(1, n + 1)), int(rng.integers(1, 4))
        scores = rng.integers(0, 3, (rows, n)) if trial % 2 else rng.standard_normal((rows, n))
        scores = scores.astype(np.float32)
        expected = np.argsort(-scores, axis=1, kind="stable")[:, :depth]
        np.testing.assert_array_equal(top_columns(scores, depth), expected)


def test_default_depths_and_the_size_limit() -> None:
    assert get_dataset("mrw").run_depth is None and get_dataset("tgif").run_depth == 500
    queries, docs = [f"q{i:02d}" for i in range(100)], [f"d{i:04d}" for i in range(2000)]
    assert resolve_depth("mrw", queries, docs, "pvse", None) == 2000  # full
    assert resolve_depth("tgif", queries, docs, "pvse", None) == 500
    assert resolve_depth("tgif", queries, docs, "pvse", 0) == 2000  # --run-depth full
    assert resolve_depth("tgif", queries, docs, "pvse", 7) == 7
    # a line is at most 3 + 5 + 4 (tag) + 4 (rank) + 15 (score) + 8 = 39 bytes
    assert fitted_depth(queries, docs, "pvse", None, max_bytes=100 * 39 * 10) == 10
    assert fitted_depth(queries, docs, "pvse", None, max_bytes=100 * 39 * 10 - 1) == 9
    assert fitted_depth(queries, docs, "pvse", None, max_bytes=10) == 1


def test_fitted_depth_keeps_the_file_under_the_limit(tmp_path: Path) -> None:
    ev = synthetic(40, 3, seed=0)
    limit = 60_000
    depth = fitted_depth(ev.video_ids, ev.sentence_ids, "pvse", None, max_bytes=limit)
    assert 1 < depth < len(ev.sentence_ids)
    written = write_evaluation_runs(tmp_path, "x", ev, "pvse", depth)
    with gzip.open(tmp_path / "v2t.run.gz") as handle:
        assert len(handle.read()) <= limit
    assert written["run_files"]["v2t"]["depth"] == depth


@pytest.mark.parametrize("tied", [False, True])
def test_scorer_ranks_equal_harness_ranks_at_full_depth(tmp_path: Path, tied: bool) -> None:
    """Scores are written as float32's shortest text: the scorer recovers every rank, ties too."""
    ev = synthetic(30, 3, seed=1, tied=tied)
    root = truth(tmp_path / "truth", ev)
    written = write_evaluation_runs(tmp_path, "toy", ev, "pvse", None)
    assert written["run_files"]["t2v"]["depth"] == 30
    assert written["run_files"]["v2t"]["depth"] == 90
    for direction, expected in (("t2v", ev.t2v_ranks), ("v2t", ev.v2t_ranks)):
        qrels = read_qrels(root / f"{direction}.qrels")
        ranking = scorer_ranks(parse_run(tmp_path / f"{direction}.run.gz", qrels), qrels)
        queries = ev.sentence_ids if direction == "t2v" else ev.video_ids
        order = [queries.index(q) for q in np.asarray(qrels.query_ids)[qrels.scored_queries]]
        np.testing.assert_array_equal(ranking.ranks, expected[order])
    assert score_submission(root, tmp_path / "t2v.run.gz", tmp_path / "v2t.run.gz") == ev.metrics
    assert written["metrics"] == ev.metrics


def test_truncated_pair_scores_as_the_harness_says_exact_or_bounded(tmp_path: Path) -> None:
    ev = synthetic(60, 3, seed=2, signal=2.5)
    root = truth(tmp_path / "truth", ev)
    depth = 20
    written = write_evaluation_runs(tmp_path, "tgif", ev, "pvse", depth)
    scored = score_submission(root, tmp_path / "t2v.run.gz", tmp_path / "v2t.run.gz")
    assert scored == written["metrics"]
    for direction in ("t2v", "v2t"):
        got, exact = scored.direction(direction), ev.metrics.direction(direction)
        for k in (1, 5, 10):
            assert got.recall[k] == exact.recall[k]
        assert got.medr == exact.medr <= depth  # the median is within depth: exact
        if isinstance(got.meanr, Bound):  # a lower bound, and an honest one
            assert got.meanr.is_lower and got.meanr.value <= exact.meanr + 1e-3
        else:
            assert got.meanr == exact.meanr


@pytest.mark.slow
def test_a_5000_by_5000_run_pair_is_accepted_and_scored_exactly_by_default(
    tmp_path: Path,
) -> None:
    """MRW's test-split size: full depth (25M lines a direction) with the default scorer."""
    n = 5000
    gen = torch.Generator().manual_seed(0)
    scores = torch.randn(n, n, generator=gen)
    scores.diagonal().add_(2.0)
    video_ids = [f"{i * 7919 % 10**6:06x}" for i in range(n)]  # Reddit-like ids
    sentence_ids = [f"t3_{v}" for v in video_ids]
    ev = evaluate_scores(scores, video_ids, sentence_ids, torch.arange(n))
    written = write_evaluation_runs(tmp_path, "mrw", ev, "pvse", None)
    assert written["run_files"]["t2v"] == {
        "depth": n,
        "lines": n * n,
        "bytes": (tmp_path / "t2v.run.gz").stat().st_size,
    }
    root = tmp_path / "truth"
    write_qrels(root / "t2v.qrels", zip(sentence_ids, video_ids, strict=True))
    write_qrels(root / "v2t.qrels", zip(video_ids, sentence_ids, strict=True))
    scored = score_submission(root, tmp_path / "t2v.run.gz", tmp_path / "v2t.run.gz")
    assert scored == written["metrics"] == ev.metrics
    assert scored.exact  # MeanR included: no bound anywhere
    pair_bytes = sum(f["bytes"] for f in written["run_files"].values())
    assert pair_bytes < 2**30
