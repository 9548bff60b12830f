"""Each baseline's loss and similarity on tiny tensors, against values worked out by hand."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from baselines.common import masked_mean
from baselines.order import order_violation
from mrw.methods.base import Batch, MethodContext
from mrw.methods.ranking import hinge_ranking_loss
from mrw.methods.registry import create_method, list_methods

# Rows are videos, columns sentences, the diagonal holds the true pairs (0.5, 0.2, 0.7).
SCORES = torch.tensor(
    [
        [0.5, 0.6, 0.4],
        [0.3, 0.2, 0.0],
        [0.4, 0.1, 0.7],
    ]
)
MARGIN = 0.2
# Costs max(0, 0.2 - positive + negative), worked out per anchor:
#   v2t rows:    v0: 0.3 (t1), 0.1 (t2)   v1: 0.3 (t0), 0.0 (t2)   v2: none
#   t2v columns: t0: 0.0 (v1), 0.1 (v2)   t1: 0.6 (v0), 0.1 (v2)   t2: none
V2T_SUM, V2T_MAX = (0.4 + 0.3 + 0.0) / 3, (0.3 + 0.3 + 0.0) / 3
T2V_SUM, T2V_MAX = (0.1 + 0.7 + 0.0) / 3, (0.1 + 0.6 + 0.0) / 3


def _batch(video: torch.Tensor, tokens: list[list[int]]) -> Batch:
    lengths = torch.tensor([len(t) for t in tokens])
    padded = torch.zeros(len(tokens), int(lengths.max()), dtype=torch.long)
    for row, ids in enumerate(tokens):
        padded[row, : len(ids)] = torch.tensor(ids)
    video_lengths = torch.full((video.size(0),), video.size(1))
    return Batch(video, video_lengths, padded, lengths, torch.arange(len(tokens)))


def test_all_five_baselines_are_registered() -> None:
    assert {"devise", "vsepp", "order", "corr_ae", "dual_path"} <= set(list_methods())


@pytest.mark.parametrize(
    ("hardest", "directions", "expected"),
    [
        (False, ("v2t", "t2v"), V2T_SUM + T2V_SUM),
        (True, ("v2t", "t2v"), V2T_MAX + T2V_MAX),
        (False, ("v2t",), V2T_SUM),
        (True, ("t2v",), T2V_MAX),
    ],
)
def test_hinge_ranking_loss_hand_computed(
    hardest: bool, directions: tuple[str, ...], expected: float
) -> None:
    loss = hinge_ranking_loss(SCORES, MARGIN, hardest=hardest, directions=directions)
    assert loss.item() == pytest.approx(expected, abs=1e-6)


def test_hinge_ranking_loss_rejects_unknown_direction() -> None:
    with pytest.raises(ValueError, match="directions"):
        hinge_ranking_loss(SCORES, MARGIN, directions=("i2t",))


def test_masked_mean_ignores_padding() -> None:
    x = torch.tensor([[[1.0], [3.0], [100.0]], [[2.0], [0.0], [0.0]]])
    assert masked_mean(x, torch.tensor([2, 1])).flatten().tolist() == [2.0, 2.0]


def test_devise_hinge_rank_loss_hand_computed() -> None:
    # Words: 1 -> (1, 0), 2 -> (0, 1), 3 -> (1, 1). Sentence 0 = [1] -> t0 = (1, 0);
    # sentence 1 = [2, 3] -> mean (0.5, 1) -> normalised (1, 2)/sqrt(5).
    vectors = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    context = MethodContext(feature_dim=2, vocab_size=4, num_train_pairs=2, word_vectors=vectors)
    method = create_method("devise", context, {"word_dim": 2, "standardize": False})
    with torch.no_grad():  # M = identity, so M v = v
        method.visual_map.weight.copy_(torch.eye(2))
        method.visual_map.bias.zero_()
    video = torch.tensor([[[1.0, 0.2]], [[0.9, 0.3]]])  # one frame each
    out = method.loss(_batch(video, [[1], [2, 3]]))
    s5 = math.sqrt(5)
    s00, s01 = 1.0, (1.0 * 1 + 0.2 * 2) / s5
    s10, s11 = 0.9, (0.9 * 1 + 0.3 * 2) / s5
    # DeViSE ranks sentences for each video only; negatives summed; mean over videos.
    expected = (max(0.0, 0.1 - s00 + s01) + max(0.0, 0.1 - s11 + s10)) / 2
    assert expected > 0.1  # the case really exercises a violated margin
    assert out["total"].item() == pytest.approx(expected, abs=1e-6)
    batch = _batch(video, [[1], [2, 3]])
    scores = method.similarity(
        method.encode_video(batch.video, batch.video_lengths),
        method.encode_text(batch.tokens, batch.token_lengths),
    )
    assert scores[1, 0].item() == pytest.approx(s10, abs=1e-6)


@pytest.mark.parametrize("name", ["devise", "corr_ae"])
def test_standardized_inputs_make_the_loss_blind_to_feature_scale(name: str) -> None:
    # z-scored inputs: features 1,000x larger (ResNet activations against colour histograms)
    # give the same loss (up to BatchNorm's eps), so one learning rate serves both.
    context = MethodContext(feature_dim=6, vocab_size=10, num_train_pairs=4)
    video = torch.rand(4, 3, 6, generator=torch.Generator().manual_seed(1)) + 0.1

    def losses(standardize: bool) -> list[float]:
        out = []
        for scale in (1.0, 1000.0):
            torch.manual_seed(0)
            sizes = {"word_dim": 5} if name == "devise" else {"word_dim": 5, "code_dim": 3}
            method = create_method(name, context, {**sizes, "standardize": standardize})
            out.append(
                method.loss(_batch(video * scale, [[1, 2], [3], [4, 5], [6]]))["total"].item()
            )
        return out

    small, large = losses(standardize=True)
    assert small == pytest.approx(large, rel=1e-3)
    small, large = losses(standardize=False)
    assert small != pytest.approx(large, rel=0.5)


def test_order_violation_hand_computed() -> None:
    video = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    text = torch.tensor([[2.0, 1.0], [0.5, 0.5]])
    # ||max(0, t - v)||^2: (1,0)->1, (0,0)->0, (2,1)->5, (.5,.5)->0.5
    assert order_violation(video, text).tolist() == [[1.0, 0.0], [5.0, 0.5]]
    # Chunked evaluation gives the same numbers as one block.
    big_v, big_t = torch.rand(300, 8), torch.rand(200, 8)
    direct = (big_t[None] - big_v[:, None]).clamp(min=0).pow(2).sum(-1)
    torch.testing.assert_close(order_violation(big_v, big_t), direct)


def test_order_loss_is_hinge_over_negative_violation() -> None:
    context = MethodContext(feature_dim=4, vocab_size=10, num_train_pairs=3)
    method = create_method("order", context, {"embed_dim": 6, "word_dim": 5})
    batch = _batch(torch.randn(3, 2, 4), [[2, 3], [4], [5, 6, 7]])
    with torch.no_grad():
        video = method.encode_video(batch.video, batch.video_lengths)
        text = method.encode_text(batch.tokens, batch.token_lengths)
    assert (video >= 0).all() and (text >= 0).all()  # the non-negative orthant
    penalties = order_violation(video[:, 0], text[:, 0])
    # Hand-written contrastive loss of Vendrov et al. (sum over negatives, both directions).
    m, n = 0.05, 3
    v2t = (
        sum(
            max(0.0, m + penalties[i, i] - penalties[i, j])
            for i in range(n)
            for j in range(n)
            if i != j
        )
        / n
    )
    t2v = (
        sum(
            max(0.0, m + penalties[j, j] - penalties[i, j])
            for j in range(n)
            for i in range(n)
            if i != j
        )
        / n
    )
    assert method.loss(batch)["total"].item() == pytest.approx(float(v2t + t2v), abs=1e-5)


def test_vsepp_uses_hardest_negative_on_cosine() -> None:
    context = MethodContext(feature_dim=4, vocab_size=10, num_train_pairs=3)
    method = create_method("vsepp", context, {"embed_dim": 6, "word_dim": 5})
    batch = _batch(torch.randn(3, 2, 4), [[2, 3], [4], [5, 6, 7]])
    video = method.encode_video(batch.video, batch.video_lengths)[:, 0]
    text = method.encode_text(batch.tokens, batch.token_lengths)[:, 0]
    assert video.norm(dim=-1).tolist() == pytest.approx([1.0] * 3)
    s = (video @ text.T).tolist()
    v2t = (
        sum(max(max(0.0, 0.2 - s[i][i] + s[i][j]) for j in range(3) if j != i) for i in range(3))
        / 3
    )
    t2v = (
        sum(max(max(0.0, 0.2 - s[j][j] + s[i][j]) for i in range(3) if i != j) for j in range(3))
        / 3
    )
    assert method.loss(batch)["total"].item() == pytest.approx(v2t + t2v, abs=1e-5)


def test_corr_ae_objective_hand_computed() -> None:
    # 1-d inputs and codes: x_v = 2, x_t = 1 (the single word's vector).
    context = MethodContext(
        feature_dim=1, vocab_size=2, num_train_pairs=1, word_vectors=torch.tensor([[0.0], [1.0]])
    )
    method = create_method(
        "corr_ae", context, {"code_dim": 1, "word_dim": 1, "alpha": 0.2, "standardize": False}
    )
    with torch.no_grad():
        for ae, code_bias in ((method.video_ae, 0.0), (method.text_ae, math.log(3.0))):
            ae.encoder.weight.zero_()
            ae.encoder.bias.fill_(code_bias)  # codes: sigmoid(0) = 0.5, sigmoid(ln 3) = 0.75
            ae.decoder.weight.zero_()
            ae.decoder.bias.fill_(1.0)  # both reconstructions are 1
    out = method.loss(_batch(torch.tensor([[[2.0]]]), [[1]]))
    assert out["recon_video"].item() == pytest.approx((2 - 1) ** 2)
    assert out["recon_text"].item() == pytest.approx(0.0)
    assert out["correspondence"].item() == pytest.approx((0.5 - 0.75) ** 2)
    assert out["total"].item() == pytest.approx(0.8 * (1 + 0) + 0.2 * 0.0625)
    video = torch.tensor([[[0.5]], [[0.1]]])
    text = torch.tensor([[[0.2]], [[0.5]], [[1.0]]])
    torch.testing.assert_close(
        method.similarity(video, text), -torch.tensor([[0.09, 0.0, 0.25], [0.01, 0.16, 0.81]])
    )


def test_dual_path_instance_loss_then_ranking_stage() -> None:
    n_classes = 5
    context = MethodContext(feature_dim=4, vocab_size=10, num_train_pairs=n_classes)
    method = create_method(
        "dual_path",
        context,
        {
            "embed_dim": 8,
            "word_dim": 6,
            "text_channels": 8,
            "stage1_epochs": 2,
            "margin": 0.5,
        },
    )
    classifier: nn.Linear = method.classifier[-1]
    with torch.no_grad():  # uniform logits: each cross-entropy is ln(number of pairs)
        classifier.weight.zero_()
        classifier.bias.zero_()
    batch = _batch(torch.randn(3, 2, 4), [[2, 3], [4], [5, 6, 7]])
    method.on_epoch_start(0)
    stage1 = method.loss(batch)
    assert "rank" not in stage1
    assert stage1["instance_video"].item() == pytest.approx(math.log(n_classes))
    assert stage1["total"].item() == pytest.approx(2 * math.log(n_classes))

    method.eval()  # no dropout / batch statistics, so the two calls see the same embeddings
    method.on_epoch_start(2)
    stage2 = method.loss(batch)
    video = method.encode_video(batch.video, batch.video_lengths)[:, 0]
    text = method.encode_text(batch.tokens, batch.token_lengths)[:, 0]
    expected_rank = hinge_ranking_loss(video @ text.T, 0.5, hardest=True)
    assert stage2["rank"].item() == pytest.approx(expected_rank.item(), abs=1e-5)
    assert stage2["total"].item() == pytest.approx(
        2 * math.log(n_classes) + expected_rank.item(), abs=1e-5
    )


def test_dual_path_text_pooling_ignores_padding() -> None:
    context = MethodContext(feature_dim=4, vocab_size=10, num_train_pairs=2)
    method = create_method(
        "dual_path", context, {"embed_dim": 8, "word_dim": 6, "text_channels": 8}
    )
    method.eval()
    short = torch.tensor([[4, 5]])
    padded = torch.tensor([[4, 5, 0, 0, 0]])
    a = method.encode_text(short, torch.tensor([2]))
    b = method.encode_text(padded, torch.tensor([2]))
    # Only positions inside the sentence count: trailing padding changes nothing.
    torch.testing.assert_close(a, b)
