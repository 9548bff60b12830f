"""The evaluator's similarity matrix is the same whatever the tiling (cache-sized tiles on a
CPU, chunks of videos on a GPU), for the default K x K maximum and for a method's own score."""

from __future__ import annotations

import threading

import pytest
import torch

from mrw.bench.evaluator import evaluate_scores, similarity_matrix
from mrw.methods.base import Method


def _embeddings(nv: int, nt: int, k: int, d: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(nv * 1000 + nt)
    v = torch.nn.functional.normalize(torch.randn(nv, k, d, generator=gen), dim=-1)
    t = torch.nn.functional.normalize(torch.randn(nt, k, d, generator=gen), dim=-1)
    return v, t


def order_violation(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """A score that is not a dot product (Order embeddings' negated violation, K = 1)."""
    diff = (text[:, None, 0] - video[None, :, 0]).clamp(min=0)
    return -(diff**2).sum(-1).T


@pytest.mark.parametrize("tile_bytes", [4, 4 * 3 * 3 * 7, 4 * 40 * 40, 1 << 30])
@pytest.mark.parametrize(("nv", "nt"), [(37, 23), (5, 61), (64, 64)])
def test_tiles_give_the_whole_matrix(tile_bytes: int, nv: int, nt: int) -> None:
    v, t = _embeddings(nv, nt, 3, 8)
    full = torch.einsum("akd,bld->abkl", v, t).amax(dim=(2, 3))
    calls: list[tuple[int, int]] = []

    def similarity(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        calls.append((len(video), len(text)))
        return Method.similarity(None, video, text)

    tiled = similarity_matrix(similarity, v, t, tile_bytes=tile_bytes)
    torch.testing.assert_close(tiled, full, rtol=0, atol=1e-6)
    assert sum(a * b for a, b in calls) == nv * nt  # every pair scored exactly once
    if tile_bytes == 1 << 30:
        assert calls == [(nv, nt)]
    whole = similarity_matrix(similarity, v, t, tile_bytes=1 << 30)
    ids_v, ids_t = [f"v{i}" for i in range(nv)], [f"s{j}" for j in range(nt)]
    pair_video = torch.arange(nt) % nv
    assert (
        evaluate_scores(tiled, ids_v, ids_t, pair_video).metrics
        == evaluate_scores(whole, ids_v, ids_t, pair_video).metrics
    )


def test_a_methods_own_score_is_tiled_alike() -> None:
    v, t = _embeddings(30, 17, 1, 6)
    expected = order_violation(v, t)
    assert torch.equal(similarity_matrix(order_violation, v, t, tile_bytes=4 * 4 * 4), expected)


def test_rows_of_tiles_run_on_the_cpu_threads_and_the_setting_comes_back() -> None:
    v, t = _embeddings(50, 40, 3, 8)
    threads = torch.get_num_threads()
    names: set[str] = set()

    def similarity(video: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        names.add(threading.current_thread().name)
        assert torch.get_num_threads() == 1  # one intra-op thread per worker
        assert torch.is_inference_mode_enabled()
        return Method.similarity(None, video, text)

    torch.set_num_threads(2)
    try:
        tiled = similarity_matrix(similarity, v, t, tile_bytes=4 * 9 * 9)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(threads)
    assert names and all(name.startswith("similarity") for name in names)
    whole = similarity_matrix(lambda a, b: Method.similarity(None, a, b), v, t, tile_bytes=2**62)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-6)
