"""The set-aware per-query table against a brute-force computation on random embeddings:
winning head pairs, margins, head usage, per-head and alternative-reduction ranks, every
relevant item's rank (several sentences per video, as TGIF)."""

from __future__ import annotations

import math

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

from mrw.bench.evaluator import evaluate_scores, similarity_matrix
from mrw.bench.setaware import (
    LSE_TEMPERATURE,
    per_query_table,
    set_aware_pass,
    summarise,
    write_parquet,
)
from mrw.core.errors import MRWError
from mrw.methods.base import Method


def embeddings(nv: int, nt: int, k: int, d: int, seed: int) -> tuple[torch.Tensor, ...]:
    gen = torch.Generator().manual_seed(seed)
    pair_video = torch.cat([torch.arange(nv), torch.randint(0, nv, (nt - nv,), generator=gen)])
    pair_video = pair_video[torch.randperm(nt, generator=gen)]
    video = torch.nn.functional.normalize(torch.randn(nv, k, d, generator=gen), dim=-1)
    noise = torch.randn(nt, k, d, generator=gen)
    text = torch.nn.functional.normalize(video[pair_video] + 1.5 * noise, dim=-1)
    return video, text, pair_video


def default_similarity(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """`Method.similarity`'s default (it uses no state of the method)."""
    return Method.similarity(None, video, text)  # type: ignore[arg-type]


def brute_rank(row: np.ndarray, relevant: set[int]) -> int:
    """1 + non-relevant items scored strictly above the best relevant one."""
    best = max(row[i] for i in relevant)
    return 1 + sum(1 for i, s in enumerate(row) if i not in relevant and s > best)


@pytest.mark.parametrize("seed", [0, 1])
def test_table_equals_brute_force(seed: int, tmp_path) -> None:
    nv, nt, k, d = 23, 40, 3, 8
    video, text, pair_video = embeddings(nv, nt, k, d, seed)
    # A chunk of a few rows, so that the pass crosses many chunk boundaries.
    passed = set_aware_pass(
        video, text, pair_video, ("mean", "lse"), chunk_bytes=4 * k * k * nt * 5
    )
    ev = evaluate_scores(passed.scores, [f"v{i}" for i in range(nv)],
                         [f"s{j}" for j in range(nt)], pair_video)  # fmt: skip
    tables = per_query_table(passed.scores, video, text, pair_video, ev.video_ids,
                             ev.sentence_ids, passed)  # fmt: skip

    v, t, pv = video.double().numpy(), text.double().numpy(), pair_video.numpy()
    full = np.einsum("akd,bld->akbl", v, t)  # [Nv, K, Nt, K]
    np.testing.assert_allclose(passed.scores.numpy(), full.max(axis=(1, 3)), atol=1e-5)
    relevant_v = [set(np.flatnonzero(pv == i).tolist()) for i in range(nv)]
    # Winning pairs and margins of each ground-truth pair.
    for j in range(nt):
        block = full[pv[j], :, j, :]
        kv, kt = np.unravel_index(block.argmax(), block.shape)
        runner_up = np.sort(block.ravel())[-2]
        assert (tables["t2v"]["k_item"][j], tables["t2v"]["k_query"][j]) == (kv, kt)
        assert tables["t2v"]["margin"][j] == pytest.approx(block.max() - runner_up, abs=1e-5)
    # Head usage: how often each video / text head wins over the ground-truth pairs.
    summary = summarise(tables, video, text, ("mean", "lse"))
    win = [np.unravel_index(full[pv[j], :, j, :].argmax(), (k, k)) for j in range(nt)]
    assert (
        summary["head_usage"]["video"]["counts"]
        == np.bincount([a for a, _ in win], minlength=k).tolist()
    )
    assert (
        summary["head_usage"]["text"]["counts"]
        == np.bincount([b for _, b in win], minlength=k).tolist()
    )
    p = np.bincount([a for a, _ in win], minlength=k) / nt
    entropy = -(p[p > 0] * np.log(p[p > 0])).sum()
    assert summary["head_usage"]["video"]["entropy_ratio"] == pytest.approx(entropy / math.log(k))
    # Every relevant item's rank, and the first relevant rank = the evaluator's.
    np.testing.assert_array_equal(tables["t2v"]["rank"], ev.t2v_ranks)
    np.testing.assert_array_equal(tables["v2t"]["rank"], ev.v2t_ranks)
    s = full.max(axis=(1, 3))
    for i in range(nv):
        got = dict(zip(tables["v2t"]["relevant"][i].tolist(),
                       tables["v2t"]["relevant_ranks"][i].tolist(), strict=True))  # fmt: skip
        assert set(got) == relevant_v[i]
        for j, r in got.items():
            assert r == 1 + int((s[i] > s[i, j]).sum())
    # One head kept, and the alternative reductions.
    lse = LSE_TEMPERATURE * np.log(np.exp(full / LSE_TEMPERATURE).sum(axis=(1, 3)))
    scorings = {f"head{h}": full[:, h, :, h] for h in range(k)} | {
        "mean": full.mean(axis=(1, 3)),
        "lse": lse,
    }
    for name, m in scorings.items():
        t2v = [brute_rank(m[:, j], {pv[j]}) for j in range(nt)]
        v2t = [brute_rank(m[i], relevant_v[i]) for i in range(nv)]
        if name.startswith("head"):
            h = int(name[4:])
            got_t2v, got_v2t = tables["t2v"]["head_ranks"][:, h], tables["v2t"]["head_ranks"][:, h]
        else:
            got_t2v, got_v2t = tables["t2v"][f"rank_{name}"], tables["v2t"][f"rank_{name}"]
        np.testing.assert_array_equal(got_t2v, t2v, err_msg=name)
        np.testing.assert_array_equal(got_v2t, v2t, err_msg=name)
    # Top items: the score order, best first.
    for j in range(nt):
        np.testing.assert_array_equal(tables["t2v"]["top"][j], np.argsort(-s[:, j])[:10])
    # The Parquet file holds both directions' rows.
    write_parquet(tables, tmp_path / "per_query.parquet")
    read = pq.read_table(tmp_path / "per_query.parquet").to_pylist()
    assert len(read) == nv + nt
    assert read[0]["direction"] == "t2v" and read[0]["top"] == tables["t2v"]["top"][0].tolist()


@pytest.mark.parametrize(("nv", "nt"), [(23, 40), (20, 20)])
def test_the_evaluators_ranks_give_the_same_table(nv: int, nt: int) -> None:
    video, text, pair_video = embeddings(nv, nt, 2, 8, 7)
    passed = set_aware_pass(video, text, pair_video)
    ids_v, ids_t = [f"v{i}" for i in range(nv)], [f"s{j}" for j in range(nt)]
    ev = evaluate_scores(passed.scores, ids_v, ids_t, pair_video)
    args = (passed.scores, video, text, pair_video, ids_v, ids_t, passed)
    computed = per_query_table(*args)
    given = per_query_table(*args, None, (ev.t2v_ranks, ev.v2t_ranks))
    for direction in ("t2v", "v2t"):
        for name in ("rank", "relevant_ranks"):
            for got, want in zip(given[direction][name], computed[direction][name], strict=True):
                np.testing.assert_array_equal(got, want)


def test_max_scores_equal_the_methods_default_similarity() -> None:
    video, text, pair_video = embeddings(30, 30, 5, 16, 3)
    passed = set_aware_pass(video, text, pair_video)
    reference = similarity_matrix(default_similarity, video, text)
    torch.testing.assert_close(passed.scores, reference)


def test_single_embedding_needs_no_pass_and_has_no_margin() -> None:
    video, text, pair_video = embeddings(12, 12, 1, 8, 4)
    passed = set_aware_pass(video, text, pair_video)
    assert passed.scores is None and passed.head_ranks is None
    scores = similarity_matrix(default_similarity, video, text)
    tables = per_query_table(scores, video, text, pair_video, [f"v{i}" for i in range(12)],
                             [f"s{i}" for i in range(12)], passed)  # fmt: skip
    assert np.isnan(tables["t2v"]["margin"]).all()
    summary = summarise(tables, video, text, ())
    assert summary["head_usage"]["video"]["counts"] == [12]
    assert summary["head_cosine"]["video"] is None and summary["head_recall"] is None


def test_unknown_reduction_is_refused() -> None:
    video, text, pair_video = embeddings(4, 4, 2, 4, 5)
    with pytest.raises(MRWError, match="unknown K x K reduction median"):
        set_aware_pass(video, text, pair_video, ("median",))


def test_a_run_records_the_asked_reductions_and_refuses_unknown_ones(
    tmp_path, monkeypatch, capsys
) -> None:
    from mrw.bench.cli import main
    from mrw.bench.record import RunRecord
    from mrw.bench.runner import run_method
    from mrw.testing.bench_synthetic import synthetic_options

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    options = synthetic_options(
        tmp_path / "cache", tmp_path / "runs", epochs=1, kk_reductions=("mean", "lse")
    )
    run = run_method("pvse", {"k": 2, "embed_dim": 16, "hidden_dim": 16}, options).run_dir
    summary = RunRecord.from_disk(run).set_aware
    assert summary.reduction == "max" and set(summary.reductions) == {"mean", "lse"}
    assert summary.lse_temperature == LSE_TEMPERATURE and len(summary.head_recall) == 2
    assert set(summary.attention) == {"video", "text"}  # PIE-Net's, on trained weights
    columns = pq.read_table(run / "per_query.parquet").column_names
    assert {"rank_mean", "rank_lse", "head_ranks", "margin"} <= set(columns)
    assert main(["run", "pvse", "--kk-reductions", "median", "--runs-dir", str(tmp_path)]) == 2
    assert "unknown reduction median" in capsys.readouterr().err
