"""Post-processing (`mrw.bench.postprocess`): each equals its paper's formula written out here
independently (loops, float64), on random scores with ties; the realistic-stream check shows
DSL's gain needing the whole query set, and the train-bank methods not depending on it."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mrw.bench.postprocess import (
    PostprocessError,
    column_logsumexp,
    directions,
    dual_softmax,
    inverted_softmax,
    make_postprocess,
    postprocessed_metrics,
    qb_norm,
    stream_check,
    stream_order,
    top_k_items,
)


def _scores(rows: int, cols: int, seed: int, ties: bool = False) -> torch.Tensor:
    """Cosine-like scores in [-1, 1]; with `ties`, rounded to one decimal (many equal values,
    tied maxima included)."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.rand(rows, cols, generator=generator) * 2 - 1
    return torch.round(scores * 10) / 10 if ties else scores


def reference_dsl(s: np.ndarray, temperature: float) -> np.ndarray:
    """CAMoE's dual softmax at inference, one entry at a time: s[i, j] times the softmax of
    column j over the queries i."""
    out = np.empty_like(s, dtype=np.float64)
    for j in range(s.shape[1]):
        total = sum(math.exp(s[i, j] / temperature) for i in range(s.shape[0]))
        for i in range(s.shape[0]):
            out[i, j] = s[i, j] * math.exp(s[i, j] / temperature) / total
    return out


def reference_inverted_softmax(s: np.ndarray, bank: np.ndarray, beta: float) -> np.ndarray:
    """Smith et al. 2017: exp(beta s[i, j]) / sum_b exp(beta bank[b, j]) over the bank."""
    out = np.empty_like(s, dtype=np.float64)
    for j in range(s.shape[1]):
        total = sum(math.exp(beta * bank[b, j]) for b in range(bank.shape[0]))
        for i in range(s.shape[0]):
            out[i, j] = math.exp(beta * s[i, j]) / total
    return out


def reference_qb_norm(s: np.ndarray, bank: np.ndarray, k: int, beta: float) -> np.ndarray:
    """Bogolin et al. 2022 as `dynamic_inverted_softmax.py` does it: the activation set is the
    union of every bank query's top-k items; a query whose top-1 item is in it gets the
    inverted softmax, any other keeps its raw scores. Ties: the lower item index first."""
    active = set()
    for row in bank:
        active.update(sorted(range(len(row)), key=lambda j: (-row[j], j))[:k])
    normalised = reference_inverted_softmax(s, bank, beta)
    out = s.astype(np.float64).copy()
    for i, row in enumerate(s):
        top = min(j for j in range(len(row)) if row[j] == row.max())
        if top in active:
            out[i] = normalised[i]
    return out


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("temperature", [0.01, 0.5])
def test_dsl_equals_the_formula(ties: bool, temperature: float) -> None:
    scores = _scores(23, 17, seed=1, ties=ties)
    expected = reference_dsl(scores.double().numpy(), temperature)
    got = dual_softmax(scores, temperature)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-7)
    chunked = dual_softmax(scores, temperature, chunk_bytes=4 * 17 * 3)  # 3 rows per chunk
    np.testing.assert_allclose(chunked.numpy(), got.numpy(), rtol=1e-6, atol=1e-8)


def test_dsl_v2t_gallery_is_the_t2v_matrix_after_dsl_transposed() -> None:
    """The CLIP4Clip-family code's v2t: DSL on the [texts, videos] matrix, read transposed."""
    scores = _scores(14, 9, seed=16)  # [videos, sentences]: the v2t matrix
    expected = reference_dsl(scores.T.double().numpy(), 0.05).T
    gallery = make_postprocess("dsl:temperature=0.05,v2t_softmax=gallery")
    np.testing.assert_allclose(gallery.fit(None, "v2t")(scores).numpy(), expected, rtol=1e-5)
    own = make_postprocess("dsl:temperature=0.05").fit(None, "v2t")(scores)
    np.testing.assert_allclose(own.numpy(), reference_dsl(scores.numpy(), 0.05), rtol=1e-5)
    t2v = gallery.fit(None, "t2v")(scores.T)  # t2v is the same either way
    np.testing.assert_allclose(t2v.numpy(), expected.T, rtol=1e-5)


def test_dsl_softmax_runs_over_the_query_axis() -> None:
    scores = _scores(9, 5, seed=2)
    priors = dual_softmax(scores, 1.0) / scores
    np.testing.assert_allclose(priors.sum(0).numpy(), np.ones(5), rtol=1e-5)  # each column
    assert torch.equal(dual_softmax(scores[:1], 0.01), scores[:1])  # one query: the raw scores


def test_dsl_does_not_change_under_uniform_repeats_but_does_under_uneven_ones() -> None:
    scores = _scores(12, 8, seed=3)
    plain = dual_softmax(scores, 0.5)
    tripled = dual_softmax(scores.repeat(3, 1), 0.5)[:12]
    np.testing.assert_allclose((tripled * 3).numpy(), plain.numpy(), rtol=1e-5)  # a constant
    uneven = torch.cat([scores, scores[:1].repeat(50, 1)])  # one query sent 51 times
    ratio = dual_softmax(uneven, 0.5)[:12] / plain  # one factor per gallery item
    assert float(ratio[0].max() / ratio[0].min()) > 1.05


@pytest.mark.parametrize("ties", [False, True])
def test_inverted_softmax_equals_the_formula(ties: bool) -> None:
    scores, bank = _scores(11, 13, seed=4, ties=ties), _scores(29, 13, seed=5, ties=ties)
    expected = reference_inverted_softmax(scores.double().numpy(), bank.double().numpy(), 20.0)
    normaliser = column_logsumexp(bank, 20.0, chunk_bytes=4 * 13 * 4)
    got = inverted_softmax(scores, normaliser, 20.0)
    np.testing.assert_allclose(np.exp(got.double().numpy()), expected, rtol=1e-4)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("ties", [False, True])
def test_qb_norm_equals_the_formula(k: int, ties: bool) -> None:
    scores, bank = _scores(40, 30, seed=6, ties=ties), _scores(5, 30, seed=7, ties=ties)
    expected = reference_qb_norm(scores.double().numpy(), bank.double().numpy(), k, 20.0)
    active = top_k_items(bank, k, chunk_bytes=4 * 30 * 2)
    got = qb_norm(scores, column_logsumexp(bank, 20.0), active, 20.0, chunk_bytes=4 * 30 * 7)
    top = scores.argmax(1)
    activated = active[top]
    assert 0 < int(activated.sum()) < len(scores)  # both kinds of query occur
    # Non-activated queries keep their raw scores, exactly.
    assert torch.equal(got[~activated], scores[~activated])
    np.testing.assert_allclose(
        np.exp(got[activated].double().numpy()), expected[activated.numpy()], rtol=1e-4
    )
    np.testing.assert_array_equal(got[~activated].numpy(), expected[~activated.numpy()])


def test_top_k_breaks_ties_towards_the_lower_index() -> None:
    bank = torch.tensor([[0.5, 0.9, 0.9, 0.1], [0.2, 0.2, 0.2, 0.2]])
    assert top_k_items(bank, 1).tolist() == [True, True, False, False]
    assert top_k_items(bank, 2).tolist() == [True, True, True, False]


def test_labels_and_bad_specs() -> None:
    assert make_postprocess("dsl").label == "dsl(temperature=0.01,v2t_softmax=queries)"
    assert make_postprocess("qb-norm", 300).label == "qb-norm(bank=train,n=300,k=1,beta=20)"
    assert make_postprocess("inverted-softmax:beta=5").label == (
        "inverted-softmax(bank=train,n=5000,beta=5)"
    )
    assert make_postprocess("qb-norm:k=2, beta=10").params == (("k", 2), ("beta", 10.0))
    assert make_postprocess("dsl:v2t_softmax=gallery").label == (
        "dsl(temperature=0.01,v2t_softmax=gallery)"
    )
    bad_specs = ("softmax", "dsl:tau=1", "qb-norm:k=0", "dsl:temperature=-1", "qb-norm:k=x")
    for bad in (*bad_specs, "dsl:v2t_softmax=texts"):
        with pytest.raises(PostprocessError):
            make_postprocess(bad)
    with pytest.raises(PostprocessError, match="needs"):
        make_postprocess("qb-norm").fit(None)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("inverted-softmax:beta=1e300", "beta: must be a finite number > 0 and <= 1000"),
        ("qb-norm:beta=1e300", "beta: must be a finite number > 0 and <= 1000"),
        ("qb-norm:beta=0", "beta: must be a finite number > 0 and <= 1000"),
        ("dsl:temperature=1e-300", "temperature: must be a finite number >= 0.0001 and <= 100"),
        ("dsl:temperature=inf", "temperature: must be a finite number >= 0.0001 and <= 100"),
        ("qb-norm:k=99999999999999999999", "k: must be between 1 and 1,000"),
        ("qb-norm:k=1.5", "k: expected a whole number"),
        ("dsl:temperature=0.01,temperature=0.02", "temperature is given twice"),
        ("qb-norm:k=2,beta=10,k=2", "k is given twice"),
    ],
)
def test_parameters_outside_their_range_or_repeated_are_refused(spec: str, message: str) -> None:
    with pytest.raises(PostprocessError, match=message):
        make_postprocess(spec)


def test_the_ends_of_each_range_are_accepted_and_give_finite_scores() -> None:
    torch.manual_seed(0)
    scores, bank = torch.rand(6, 5) * 2 - 1, torch.rand(8, 5) * 2 - 1
    for spec in ("dsl:temperature=0.0001", "dsl:temperature=100", "qb-norm:k=1000,beta=1000",
                 "inverted-softmax:beta=1000", "qb-norm:k=1,beta=1e-9"):  # fmt: skip
        post = make_postprocess(spec)
        out = post.fit(bank if post.uses_bank else None)(scores)
        assert torch.isfinite(out).all(), spec


def _hubby_split(seed: int, n: int = 60) -> tuple[torch.Tensor, dict]:
    """[videos, sentences] scores of a split with hubs: a few videos close to every sentence,
    which DSL and the bank methods demote."""
    generator = torch.Generator().manual_seed(seed)
    scores = 0.3 * torch.randn(n, n, generator=generator) + 0.5 * torch.eye(n)
    scores[:3] += 0.6  # three hub videos
    ids = [f"v{i:03d}" for i in range(n)]
    split = directions(torch.arange(n), ids, [f"s{i:03d}" for i in range(n)])
    return scores, split


def test_stream_check_dsl_gain_vanishes_one_query_at_a_time() -> None:
    scores, split = _hubby_split(seed=8)
    t2v = scores.T
    checked = stream_check(make_postprocess("dsl:temperature=0.05").fit(), t2v, split["t2v"], 0)
    raw, full = checked["raw"], checked["full_set"]
    assert full.recall[1] > raw.recall[1] + 10  # a real gain with the whole query set
    assert checked["one_at_a_time"] == raw  # one query at a time: the raw ranking, exactly
    assert checked["shuffled_duplicated"] != full  # uneven repeats move the softmax


@pytest.mark.parametrize("spec", ["qb-norm", "inverted-softmax", "qb-norm:k=3"])
def test_stream_check_train_bank_methods_do_not_depend_on_the_test_set(spec: str) -> None:
    scores, split = _hubby_split(seed=9)
    bank = _hubby_split(seed=10)[0][:, :45].T  # 45 other queries against the same videos
    for name, matrix, direction_bank in (
        ("t2v", scores.T, bank),
        ("v2t", scores, _hubby_split(seed=11)[0][:30]),
    ):
        checked = stream_check(make_postprocess(spec).fit(direction_bank), matrix, split[name], 3)
        assert checked["full_set"] != checked["raw"]
        assert checked["shuffled_duplicated"] == checked["full_set"]
        assert checked["one_at_a_time"] == checked["full_set"]


def test_stream_order_repeats_unevenly_and_shuffles() -> None:
    order = stream_order(200, seed=1)
    counts = torch.bincount(order, minlength=200)
    assert int(counts.min()) == 1 and int(counts.max()) == 4
    assert not torch.equal(order, order.sort().values)
    assert torch.equal(order, stream_order(200, seed=1))


def test_postprocessed_metrics_document() -> None:
    scores, split = _hubby_split(seed=12)
    banks = {"t2v": _hubby_split(seed=13)[0].T[:20], "v2t": _hubby_split(seed=14)[0][:25]}
    entry = postprocessed_metrics(make_postprocess("qb-norm", 20), scores, split, banks, seed=5)
    assert entry["label"] == "qb-norm(bank=train,n=20,k=1,beta=20)"
    assert entry["bank"] == {"split": "train", "drawn": 20, "seed": 5, "t2v": 20, "v2t": 25}
    assert set(entry["stream_check"]) == {
        "shuffled_duplicated",
        "one_at_a_time",
        "max_repeats",
        "seed",
    }
    assert entry["metrics"]["rsum"] == entry["stream_check"]["one_at_a_time"]["rsum"]
    assert set(entry["metrics"]) == {"t2v", "v2t", "rsum"}


def test_stream_check_with_several_relevant_sentences_per_video() -> None:
    """TGIF-like: two sentences per video, so a v2t query has two relevant items."""
    videos = 30
    pair_video = torch.arange(videos).repeat(2)
    generator = torch.Generator().manual_seed(15)
    scores = 0.3 * torch.randn(videos, 2 * videos, generator=generator)
    scores[pair_video, torch.arange(2 * videos)] += 0.5
    scores[:2] += 0.6  # hub videos
    split = directions(
        pair_video, [f"v{i:02d}" for i in range(videos)], [f"s{i:02d}" for i in range(60)]
    )
    for name, matrix in (("t2v", scores.T), ("v2t", scores)):
        dsl = make_postprocess("dsl:temperature=0.05").fit(None, name)
        checked = stream_check(dsl, matrix, split[name], 1)
        assert checked["one_at_a_time"] == checked["raw"] != checked["full_set"]
        bank = torch.randn(17, matrix.shape[1], generator=generator) * 0.3
        qb = stream_check(make_postprocess("qb-norm:k=2").fit(bank, name), matrix, split[name], 1)
        assert qb["one_at_a_time"] == qb["shuffled_duplicated"] == qb["full_set"]
    assert split["v2t"].metrics(scores).queries == videos
    # The CLIP4Clip-family v2t reads each video query's own row only: no query-set effect.
    gallery = make_postprocess("dsl:temperature=0.05,v2t_softmax=gallery").fit(None, "v2t")
    checked = stream_check(gallery, scores, split["v2t"], 1)
    assert checked["one_at_a_time"] == checked["shuffled_duplicated"] == checked["full_set"]
