"""PVSE losses against values worked out by hand on tiny tensors, and against the naive forms."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pvse.losses import (
    combine_losses,
    diversity_loss,
    mil_loss,
    mil_mmd_losses,
    mil_similarity,
    mmd_loss,
)


def _pairs(*rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


# Two videos and two sentences, K = 2 unit vectors each, in 2-d.
VIDEO = _pairs([[1, 0], [0, 1]], [[-1, 0], [0, -1]])
TEXT = _pairs([[0, 1], [0, -1]], [[0.6, 0.8], [-0.6, 0.8]])


def test_mil_similarity_is_the_best_of_the_k_by_k_pairs() -> None:
    # video 0 vs sentence 0: the four pair cosines are 0, 0, 1, -1 -> exactly one pair
    # (video head 2, sentence head 1) matches and the pair scores its similarity, 1.
    expected = torch.tensor([[1.0, 0.8], [1.0, 0.6]], dtype=torch.float64)
    torch.testing.assert_close(mil_similarity(VIDEO, TEXT), expected)


def test_mil_loss_by_hand_k2() -> None:
    # scores [[1, .8], [1, .6]], margin .1:
    # video queries: max(0, .1 - 1 + .8) = 0, max(0, .1 - .6 + 1) = .5  -> mean .25
    # sentence queries: max(0, .1 - 1 + 1) = .1, max(0, .1 - .6 + .8) = .3 -> mean .2
    loss = mil_loss(VIDEO, TEXT, margin=0.1)
    assert loss.item() == pytest.approx(0.45)


def test_mil_loss_hardest_versus_summed_negatives_by_hand() -> None:
    video = torch.eye(3, dtype=torch.float64)[:, None, :]
    text = _pairs([[1, 0, 0]], [[0.6, 0.8, 0]], [[0, 0.6, 0.8]])
    # scores = video . text^T = [[1, .6, 0], [0, .8, .6], [0, 0, .8]], margin .5
    # video queries' costs: row 0 {.1, 0}, row 1 {0, .3}, row 2 {0, 0}
    # sentence queries' costs: col 0 {0, 0}, col 1 {.3, 0}, col 2 {0, .3}
    hardest = mil_loss(video, text, margin=0.5, max_violation=True)
    summed = mil_loss(video, text, margin=0.5, max_violation=False)
    assert hardest.item() == pytest.approx((0.1 + 0.3 + 0) / 3 + (0 + 0.3 + 0.3) / 3)
    # Summed over each anchor's negatives, averaged over the 3 anchors (the baselines' form).
    assert summed.item() == pytest.approx((0.1 + 0.3) / 3 + (0.3 + 0.3) / 3)


def _vsepp_max_violation(video: torch.Tensor, text: torch.Tensor, margin: float) -> torch.Tensor:
    """VSE++'s max-of-hinges written per sample, as in Faghri et al. (sum over the batch)."""
    total = torch.zeros((), dtype=video.dtype)
    for i in range(video.size(0)):
        pos = video[i] @ text[i]
        hardest_sentence = max(
            margin - pos + video[i] @ text[j] for j in range(len(text)) if j != i
        )
        hardest_video = max(margin - pos + video[j] @ text[i] for j in range(len(video)) if j != i)
        total = total + hardest_sentence.clamp(min=0) + hardest_video.clamp(min=0)
    return total


def test_k1_mil_loss_is_the_vsepp_max_violation_hinge() -> None:
    generator = torch.Generator().manual_seed(3)
    video = F.normalize(torch.randn(7, 1, 5, generator=generator, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(7, 1, 5, generator=generator, dtype=torch.float64), dim=-1)
    expected = _vsepp_max_violation(video[:, 0], text[:, 0], margin=0.2) / 7
    assert mil_loss(video, text, margin=0.2).item() == pytest.approx(expected.item())
    assert expected.item() > 0


def test_mil_loss_gradient_flows_only_through_the_best_pair() -> None:
    video, text = VIDEO.clone().requires_grad_(), TEXT.clone().requires_grad_()
    mil_loss(video, text, margin=0.1).backward()
    # Both of video 0's scores (1 and .8) are realised by its second head; its first head
    # wins no K x K maximum, so the loss cannot reach it.
    assert video.grad[0, 0].abs().sum() == 0
    assert video.grad[0, 1].abs().sum() > 0


def test_single_pair_batch_has_no_negatives() -> None:
    assert mil_loss(VIDEO[:1], TEXT[:1]).item() == 0.0
    assert mil_loss(VIDEO[:1], TEXT[:1], max_violation=False).item() == 0.0


def test_diversity_loss_by_hand() -> None:
    # instance 0: heads (1, 0) and (1, 1)/√2 -> off-diagonal Gram 1/√2 twice -> ‖G - I‖ = 1,
    # / K² = .25
    # instance 1: orthogonal heads -> 0.  Batch mean .125; the residuals' scale does not matter.
    residuals = _pairs([[1, 0], [3, 3]], [[0, 2], [5, 0]])
    assert diversity_loss(residuals).item() == pytest.approx(0.125)


def test_diversity_loss_identical_heads_is_maximal_and_differentiable() -> None:
    k = 3
    residuals = torch.ones(2, k, 4, dtype=torch.float64, requires_grad=True)
    loss = diversity_loss(residuals)
    assert loss.item() == pytest.approx(math.sqrt(k * k - k) / k**2)
    loss.backward()
    assert torch.isfinite(residuals.grad).all()


@pytest.mark.parametrize(
    ("kernel", "expected"),
    [
        # one point each, ‖x - y‖ = 2: k(x,x) = k(y,y) = 1, k(x,y) = exp(-γ·4) or exp(-γ·2)
        ("squared", 2 - 2 * math.exp(-0.5 * 4)),
        ("distance", 2 - 2 * math.exp(-0.5 * 2)),
    ],
)
def test_mmd_single_points_by_hand(kernel: str, expected: float) -> None:
    x = _pairs([[0, 0]])
    y = _pairs([[2, 0]])
    assert mmd_loss(x, y, gamma=0.5, kernel=kernel).item() == pytest.approx(expected)


def test_mmd_two_sets_by_hand() -> None:
    x = _pairs([[0, 0]], [[0, 1]])
    y = _pairs([[1, 0]])
    g = 0.3
    # x-x squared distances {0, 1, 1, 0}; x-y {1, 2}; y-y {0}
    expected = (2 + 2 * math.exp(-g)) / 4 + 1 - 2 * (math.exp(-g) + math.exp(-2 * g)) / 2
    assert mmd_loss(x, y, gamma=g).item() == pytest.approx(expected)


def test_mmd_of_identical_sets_is_zero() -> None:
    x = torch.randn(6, 2, 8, dtype=torch.float64)
    assert mmd_loss(x, x.clone(), gamma=0.5).item() == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("kernel", ["squared", "distance"])
def test_mmd_matches_explicit_pairwise_differences(kernel: str) -> None:
    generator = torch.Generator().manual_seed(0)
    x = F.normalize(torch.randn(4, 3, 16, generator=generator, dtype=torch.float64), dim=-1)
    y = F.normalize(torch.randn(5, 3, 16, generator=generator, dtype=torch.float64), dim=-1)
    x2, y2 = x.reshape(-1, 16), y.reshape(-1, 16)

    def naive(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        dist = (a[:, None] - b).norm(dim=-1)
        return torch.exp(-0.5 * (dist**2 if kernel == "squared" else dist)).mean()

    expected = naive(x2, x2) + naive(y2, y2) - 2 * naive(x2, y2)
    assert mmd_loss(x, y, gamma=0.5, kernel=kernel).item() == pytest.approx(
        expected.item(), rel=1e-9
    )


def test_mmd_distance_kernel_gradient_is_finite_on_duplicate_points() -> None:
    x = torch.tensor([[1.0, 0.0], [1.0, 0.0]], requires_grad=True)
    y = torch.tensor([[0.0, 1.0]], requires_grad=True)
    mmd_loss(x, y, gamma=0.5, kernel="distance").backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_mmd_rejects_unknown_kernel() -> None:
    with pytest.raises(ValueError, match="kernel"):
        mmd_loss(torch.zeros(1, 2), torch.ones(1, 2), gamma=1.0, kernel="laplace")


def test_combine_losses_absolute_and_relative() -> None:
    mil = torch.tensor(2.0, requires_grad=True)
    div = torch.tensor(0.5, requires_grad=True)
    assert combine_losses(mil, {"div": (0.1, div)}).item() == pytest.approx(2.05)
    total = combine_losses(mil, {"div": (0.1, div)}, relative=True)
    assert total.item() == pytest.approx(2.0 + 0.1 * 2.0)  # λ·L_mil: the term at L_mil's scale
    total.backward()
    assert div.grad.item() == pytest.approx(0.1 * 2.0 / 0.5)  # the ratio is a constant
    assert mil.grad.item() == pytest.approx(1.0)


def test_combine_losses_relative_with_a_zero_term_stays_finite() -> None:
    mil = torch.tensor(1.0)
    assert combine_losses(mil, {"div": (0.1, torch.tensor(0.0))}, relative=True).item() == 1.0


@pytest.mark.parametrize("kernel", ["squared", "distance"])
def test_mmd_and_shared_gram_gradients_pass_gradcheck(kernel: str) -> None:
    generator = torch.Generator().manual_seed(1)
    video = F.normalize(torch.randn(3, 2, 5, generator=generator, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(3, 2, 5, generator=generator, dtype=torch.float64), dim=-1)
    video.requires_grad_()
    text.requires_grad_()
    other = torch.randn(4, 5, generator=generator, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: mmd_loss(a, b, 0.5, kernel), (video, other))

    def shared(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        mil, mmd = mil_mmd_losses(a, b, 0.5, False, 0.7, kernel)
        return mil + 3 * mmd

    assert torch.autograd.gradcheck(shared, (video, text))
    separate = mil_loss(video, text, 0.5, False) + 3 * mmd_loss(video, text, 0.7, kernel)
    torch.testing.assert_close(shared(video, text), separate, rtol=1e-12, atol=1e-12)
