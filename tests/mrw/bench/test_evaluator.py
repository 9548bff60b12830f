"""The evaluator's exact ranks against a brute-force trec_eval-order reference."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from leaderboard.metrics import ranks_to_metrics
from leaderboard.runfile import write_run
from mrw.bench.evaluator import (
    evaluate_scores,
    matrix_first_relevant_ranks,
    similarity_matrix,
    tie_order,
)
from mrw.methods.base import Method


def brute_force_ranks(
    scores: np.ndarray, relevant: list[set[int]], doc_ids: list[str]
) -> np.ndarray:
    """Sort every query's documents as trec_eval does; 1-based position of the first relevant."""
    out = []
    for q, row in enumerate(scores):
        order = sorted(
            range(len(doc_ids)), key=lambda d: (-row[d], tuple(-b for b in doc_ids[d].encode()))
        )
        out.append(next(i + 1 for i, d in enumerate(order) if d in relevant[q]))
    return np.array(out)


def tied_scores(nv: int, nt: int, seed: int) -> torch.Tensor:
    """Scores on a coarse grid, so that many are exactly tied."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, 4, (nv, nt), generator=gen).float() / 4


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranks_match_brute_force_with_ties_and_several_sentences_per_video(seed: int) -> None:
    nv, per_video = 7, 3  # TGIF-like: several relevant sentences per video query
    pair_video = torch.arange(nv).repeat_interleave(per_video)[
        torch.randperm(nv * per_video, generator=torch.Generator().manual_seed(seed))
    ]
    nt = len(pair_video)
    scores = tied_scores(nv, nt, seed)
    video_ids = [f"v{(i * 37) % 11}x{i}" for i in range(nv)]  # ids not in index order
    sentence_ids = [f"s{(j * 13) % 29:02d}-{j}" for j in range(nt)]
    ev = evaluate_scores(scores, video_ids, sentence_ids, pair_video)

    s = scores.numpy()
    t2v_ref = brute_force_ranks(s.T, [{int(v)} for v in pair_video], video_ids)
    v2t_ref = brute_force_ranks(
        s, [set(np.flatnonzero(pair_video.numpy() == v)) for v in range(nv)], sentence_ids
    )
    np.testing.assert_array_equal(ev.t2v_ranks, t2v_ref)
    np.testing.assert_array_equal(ev.v2t_ranks, v2t_ref)
    assert ev.metrics.t2v == ranks_to_metrics(t2v_ref, nv)
    assert ev.metrics.v2t.medr == ranks_to_metrics(v2t_ref, nt).medr


def test_ranks_agree_with_the_written_run_files(tmp_path) -> None:
    """The harness ranks equal the positions in the run file the scorer reads."""
    scores = tied_scores(5, 9, seed=3)
    pair_video = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2, 3])
    video_ids = [f"vid{i}" for i in (3, 1, 4, 0, 2)]
    sentence_ids = [f"s{i}" for i in range(9)]
    ev = evaluate_scores(scores, video_ids, sentence_ids, pair_video)
    write_run(tmp_path / "t2v.run.gz", sentence_ids, video_ids, scores.T, "t")
    ranked: dict[str, list[str]] = {}
    with gzip.open(tmp_path / "t2v.run.gz", "rt") as handle:
        for line in handle:
            qid, _, docid, *_ = line.split()
            ranked.setdefault(qid, []).append(docid)
    from_file = [
        ranked[sid].index(video_ids[int(v)]) + 1
        for sid, v in zip(sentence_ids, pair_video, strict=True)
    ]
    assert ev.t2v_ranks.tolist() == from_file


def test_query_without_relevant_document_is_not_found() -> None:
    scores = torch.rand(3, 4)
    ranks = matrix_first_relevant_ranks(
        scores, torch.tensor([0, 2]), torch.tensor([1, 3]), tie_order(list("abcd"))
    )
    assert ranks[1] == 0 and ranks[0] >= 1 and ranks[2] >= 1


def test_chunked_similarity_equals_the_full_kxk_maximum() -> None:
    gen = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(37, 3, 8, generator=gen), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(23, 3, 8, generator=gen), dim=-1)
    full = torch.einsum("akd,bld->abkl", v, t).amax(dim=(2, 3))
    seen = []

    def similarity(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        seen.append(len(video))
        return Method.similarity(None, video, text)  # the interface's default: max over K x K

    # a chunk budget of 5 rows of scores forces 8 chunks
    torch.testing.assert_close(
        similarity_matrix(similarity, v, t, chunk_bytes=4 * 9 * 23 * 5), full
    )
    assert sorted(seen) == [2] + [5] * 7  # row blocks may run on several threads
