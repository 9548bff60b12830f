"""PVSE's whole objective against the reference code's formulation (yalesong/pvse `loss.py`),
written here independently as brute-force float64 loops over scalars.

The reference (its `PVSELoss` with the default `reduction='mean'`):
- scores: each video-sentence pair's best cosine over its K x K embedding pairs;
- ranking loss, per direction: the hinge costs max(0, m - s(pos) + s(neg)), 0 for the positive
  itself; with `--max_violation` the largest cost per anchor, averaged over the B anchors;
  otherwise the mean over all B² entries (the sum over negatives divided by B²);
- diversity (only K > 1): per instance, ‖G‖_F of the Gram matrix of the L2-normalised
  residuals with its diagonal zeroed, / K², averaged over the batch; video + text;
- MMD (only K > 1): mean exp(-γ‖a-b‖) over the x-x, y-y and x-y point pairs (γ = 0.5, the
  distance not squared), mean k(x, x) + mean k(y, y) - 2 mean k(x, y);
- total = ranking + λ1 diversity + λ2 MMD, λ unscaled.

Ours (`pvse.method.loss_terms`) averages over anchors after summing over negatives, so at the
reference's conventions (distance kernel, MMD skipped at K = 1) it must equal the reference
with the hardest negative and B times the reference with summed negatives.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pvse.method import PVSEConfig, loss_terms

B, D, MARGIN, GAMMA, DIV_WEIGHT, MMD_WEIGHT = 5, 4, 0.2, 0.5, 0.1, 0.01


def _dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return sum((a[d] * b[d] for d in range(a.numel())), torch.zeros((), dtype=a.dtype))


def _norm(a: torch.Tensor) -> torch.Tensor:
    return torch.sqrt(_dot(a, a))


def _reference_objective(
    video: torch.Tensor,
    text: torch.Tensor,
    video_res: torch.Tensor,
    text_res: torch.Tensor,
    max_violation: bool,
) -> torch.Tensor:
    """The reference's total loss, one scalar operation at a time (differentiable)."""
    b, k, _ = video.shape
    zero = torch.zeros((), dtype=video.dtype)
    score = [
        [
            max(
                (_dot(video[i, p], text[j, q]) for p in range(k) for q in range(k)),
                key=torch.Tensor.item,
            )
            for j in range(b)
        ]
        for i in range(b)
    ]

    def hinge(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
        return torch.clamp(MARGIN - positive + negative, min=0.0)

    # row a of each direction: the costs of anchor a against every item of the other side
    video_anchor = [
        [hinge(score[i][i], score[i][j]) if j != i else zero for j in range(b)] for i in range(b)
    ]
    text_anchor = [
        [hinge(score[j][j], score[i][j]) if i != j else zero for i in range(b)] for j in range(b)
    ]
    ranking = zero
    for rows in (video_anchor, text_anchor):
        if max_violation:
            ranking = ranking + sum((max(row, key=torch.Tensor.item) for row in rows), zero) / b
        else:
            ranking = ranking + sum((c for row in rows for c in row), zero) / (b * b)
    if k == 1:
        return ranking
    diversity = zero
    for residuals in (video_res, text_res):
        per_instance = []
        for n in range(b):
            rows = [residuals[n, p] / _norm(residuals[n, p]) for p in range(k)]
            off = sum(
                (_dot(rows[p], rows[q]) ** 2 for p in range(k) for q in range(k) if p != q), zero
            )
            per_instance.append(torch.sqrt(off) / k**2)
        diversity = diversity + sum(per_instance, zero) / b
    points_x = [video[i, p] for i in range(b) for p in range(k)]
    points_y = [text[i, p] for i in range(b) for p in range(k)]

    def mean_kernel(left: list[torch.Tensor], right: list[torch.Tensor]) -> torch.Tensor:
        values = [
            torch.exp(-GAMMA * _norm(a - c)) if a is not c else torch.ones((), dtype=a.dtype)
            for a in left
            for c in right
        ]
        return sum(values, zero) / len(values)

    mmd = (
        mean_kernel(points_x, points_x)
        + mean_kernel(points_y, points_y)
        - 2 * mean_kernel(points_x, points_y)
    )
    return ranking + DIV_WEIGHT * diversity + MMD_WEIGHT * mmd


def _inputs(k: int, seed: int) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    video, text = (
        F.normalize(torch.randn(B, k, D, generator=generator, dtype=torch.float64), dim=-1)
        for _ in range(2)
    )
    # residuals are sigmoid outputs in the model: positive
    video_res, text_res = (
        torch.rand(B, k, D, generator=generator, dtype=torch.float64) + 0.05 for _ in range(2)
    )
    return [t.requires_grad_() for t in (video, text, video_res, text_res)]


def _ours(inputs: list[torch.Tensor], k: int, max_violation: bool, **fields) -> torch.Tensor:
    config = PVSEConfig(
        k=k,
        margin=MARGIN,
        max_violation=max_violation,
        div_weight=DIV_WEIGHT,
        mmd_weight=MMD_WEIGHT,
        mmd_gamma=GAMMA,
        mmd_kernel="distance",
        **fields,
    )
    return loss_terms(config, *inputs)["total"]


@pytest.mark.parametrize("max_violation", [True, False])
@pytest.mark.parametrize(("k", "fields"), [(3, {}), (1, {"mmd_at_k1": False})])
def test_total_loss_and_gradients_match_the_reference(
    k: int, fields: dict, max_violation: bool
) -> None:
    inputs = _inputs(k, seed=k)
    expected = _reference_objective(*inputs, max_violation)
    # hardest negative: ours is the reference's; summed: B times it, λ scaled by B with it
    factor = 1 if max_violation else B
    ours = _ours(inputs, k, max_violation, **fields)
    assert ours.item() == pytest.approx(factor * expected.item(), rel=1e-10)
    assert expected.item() > 0
    ours_grads = torch.autograd.grad(ours, inputs, allow_unused=True)
    expected_grads = torch.autograd.grad(factor * expected, inputs, allow_unused=True)
    for mine, theirs in zip(ours_grads, expected_grads, strict=True):
        if theirs is None:  # K = 1: the residuals reach no term
            assert mine is None or not mine.any()
        else:
            torch.testing.assert_close(mine, theirs, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("max_violation", [True, False])
def test_k1_by_default_adds_mmd_where_the_reference_does_not(max_violation: bool) -> None:
    inputs = _inputs(1, seed=7)
    reference = _reference_objective(*inputs, max_violation).item()
    factor = 1 if max_violation else B
    ours = _ours(inputs, 1, max_violation).item()  # mmd_at_k1 on: the paper's objective
    mmd = ours - factor * reference
    assert mmd > 1e-6  # λ2·MMD of two sets of random unit vectors (× B when summed)
    assert _ours(inputs, 1, max_violation, mmd_at_k1=False).item() == pytest.approx(
        factor * reference, rel=1e-10
    )
