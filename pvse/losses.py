"""PVSE's training losses on `[B, K, D]` L2-normalised embeddings (paper Sec. 3.2-3.3).

    L = L_mil + λ1 L_div + λ2 L_mmd

All terms are vectorised and memory-lean: the largest intermediate is a `[B·K, B·K]`
matrix, never a `[·, ·, D]` tensor of pairwise differences. Distances come from Gram
matrices (‖a - b‖² = ‖a‖² + ‖b‖² - 2 a·b, the norms read off the Gram diagonals), and
`mil_mmd_losses` computes the video-text Gram once for both the MIL scores and the MMD's
cross term, so one loss step costs 3 `[N, D] x [D, N]` products forward and 4 backward
(`benchmarks/train_step.py` times it against the reference code's loss).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
from torch import Tensor
from torch.autograd.function import FunctionCtx

from mrw.methods.ranking import hinge_ranking_loss

Kernel = Literal["squared", "distance"]


def _max_over_heads(scores: Tensor, bv: int, k: int, bt: int, kt: int) -> Tensor:
    """`[Bv·K, Bt·K']` head-pair cosines -> `[Bv, Bt]`: each pair's best of its K x K'."""
    return scores.view(bv, k, bt, kt).amax(dim=(1, 3))


def mil_similarity(video: Tensor, text: Tensor) -> Tensor:
    """`[Bv, K, D]` x `[Bt, K', D]` -> `[Bv, Bt]`: the best cosine over each pair's K x K'
    embedding pairs (the multiple-instance view: one matching pair of meanings suffices)."""
    bv, k, d = video.shape
    bt, kt, _ = text.shape
    scores = video.reshape(bv * k, d) @ text.reshape(bt * kt, d).T
    return _max_over_heads(scores, bv, k, bt, kt)


def mil_loss(
    video: Tensor, text: Tensor, margin: float = 0.1, max_violation: bool = True
) -> Tensor:
    """Bidirectional triplet hinge on the MIL similarity of aligned batches (row i ↔ row i).

    Args:
        video: `[B, K, D]` L2-normalised video embeddings.
        text: `[B, K', D]` L2-normalised sentence embeddings; row i pairs with video i.
        margin: the hinge margin.
        max_violation: keep each anchor's hardest negative (VSE++); otherwise sum the costs
            over the B-1 negatives, the paper's L_mil (Song & Soleymani 2019, Eq. 4).

    Returns:
        A scalar: `mrw.methods.ranking.hinge_ranking_loss` of `mil_similarity`, i.e. costs
        summed over negatives (or the hardest), averaged over anchors, both directions added:
        the normalisation every baseline uses. With K = 1 it is exactly VSE++'s loss (and
        VSE0's without `max_violation`), up to VSE++'s sum over anchors (a constant factor B).
    """
    return hinge_ranking_loss(mil_similarity(video, text), margin, hardest=max_violation)


def diversity_loss(heads: Tensor, normalise: bool = True) -> Tensor:
    """‖G - I‖_F / K² averaged over the batch, G the Gram matrix of the K rows of `heads`.

    Args:
        heads: `[B, K, N]`, one row per PIE-Net head: the locally-guided features Υ
            (`N = D`; the paper's Eq. 7 and the reference code, rows L2-normalised first), or
            the attention maps α (`N = T`, rows are distributions; Lin et al. 2017's penalty
            ‖AAᵀ - I‖_F, with `normalise=False`, so it also rewards peaked attention).
        normalise: L2-normalise the rows before forming G (as `F.normalize`: a row of norm
            below 1e-12 is divided by 1e-12). Done on the `[B, K, K]` Gram matrix of the raw
            rows, G_kl / (‖h_k‖ ‖h_l‖), so no `[B, K, N]` temporaries are made.

    Returns:
        A scalar, 0 when the K rows are orthonormal. Pushes the heads apart: on Υ towards
        different directions of the embedding space, on α towards different frames/words.
    """
    k = heads.size(1)
    gram = _Gram.apply(heads)
    if normalise:
        eps = 1e-12
        norms = gram.diagonal(dim1=1, dim2=2).clamp(min=eps * eps).sqrt()
        gram = gram / (norms[:, :, None] * norms[:, None, :])
    identity = torch.eye(k, dtype=gram.dtype, device=gram.device)
    return torch.linalg.matrix_norm(gram - identity).mean() / k**2


class _Gram(torch.autograd.Function):
    """a aᵀ for `[..., N, D]` a. Autograd would treat a and aᵀ as two operands and spend two
    products on the backward, one of them through aᵀ's transposed layout (6x slower than the
    other for PIE-Net's `[B, K, D]` heads); the symmetric form needs one, (G + Gᵀ) a."""

    @staticmethod
    def forward(ctx: FunctionCtx, a: Tensor) -> Tensor:
        ctx.save_for_backward(a)
        return a @ a.transpose(-1, -2)

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> Tensor:
        (a,) = ctx.saved_tensors
        return (grad + grad.transpose(-1, -2)) @ a


def _grams(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(x xᵀ, y yᵀ, x yᵀ) of `[N, D]` x and `[M, D]` y: 3 products forward, 4 backward."""
    return _Gram.apply(x), _Gram.apply(y), x @ y.T


class _MMDFromGrams(torch.autograd.Function):
    """Biased MMD² from the Gram matrices (x xᵀ, y yᵀ, x yᵀ) of `[N, D]` x and `[M, D]` y.

    The three blocks' distances ‖a‖² + ‖b‖² - 2 a·b (norms read off the Gram diagonals) live
    in one flat buffer, so each elementwise step is one operation over all three, and the
    backward is written out: a dozen passes over the N² + M² + NM entries instead of autograd's
    ~60 (which matter most when threads are contended). With the distance kernel the distances
    are clamped at 0 (rounding leaves ~1e-7 where two points coincide, which under the square
    root would be a spurious distance with a huge gradient; a point's distance to itself is
    exactly 0 by construction), and the gradient at distance 0 is 0, as `torch.norm`'s.
    """

    @staticmethod
    def forward(
        ctx: FunctionCtx, xx: Tensor, yy: Tensor, xy: Tensor, gamma: float, distance: bool
    ) -> Tensor:
        sq_x, sq_y = xx.diagonal(), yy.diagonal()
        blocks = ((xx, sq_x, sq_x), (yy, sq_y, sq_y), (xy, sq_x, sq_y))
        dists = xx.new_empty(sum(gram.numel() for gram, _, _ in blocks))
        for (gram, rows, cols), view in zip(blocks, _blocks(dists, xx, yy, xy), strict=True):
            # ‖a‖² + ‖b‖² as the rank-2 product [‖a‖², 1] [1, ‖b‖²]ᵀ, minus 2 a·b, in one call
            left = torch.stack((rows, torch.ones_like(rows)), dim=1)
            right = torch.stack((torch.ones_like(cols), cols))
            torch.addmm(gram, left, right, beta=-2, out=view)
        if distance:
            dists.clamp_(min=0).sqrt_()
        kernel = torch.exp(dists * -gamma)
        ctx.save_for_backward(xx, yy, xy, kernel, dists if distance else None)
        ctx.gamma = gamma
        means = [view.sum() / view.numel() for view in _blocks(kernel, xx, yy, xy)]
        return sum(w * m for w, m in zip(MMD_WEIGHTS, means, strict=True))

    @staticmethod
    def backward(ctx: FunctionCtx, grad: Tensor) -> tuple[Tensor | None, ...]:
        xx, yy, xy, kernel, dists = ctx.saved_tensors
        # d k / d‖a-b‖² = -γ k (squared), -γ k / (2‖a-b‖) (distance; 0 where the distance is);
        # d‖a-b‖² / d(a·b) = -2
        if dists is None:
            slope = kernel.clone()
        else:
            slope = kernel.div(dists).nan_to_num_(posinf=0.0).mul_(0.5)
        grads = _blocks(slope, xx, yy, xy)
        for view, weight in zip(grads, MMD_WEIGHTS, strict=True):
            view.mul_(grad * weight * 2 * ctx.gamma / view.numel())
        grad_xx, grad_yy, grad_xy = grads
        # d‖a-b‖² / d‖a‖² = 1 = -½ d‖a-b‖² / d(a·b): each norm collects its row's or column's
        rows = [g.sum(1) for g in grads]
        cols = [g.sum(0) for g in grads]
        grad_xx.diagonal().add_((rows[0] + cols[0] + rows[2]) * -0.5)
        grad_yy.diagonal().add_((rows[1] + cols[1] + cols[2]) * -0.5)
        return grad_xx, grad_yy, grad_xy, None, None


MMD_WEIGHTS = (1.0, 1.0, -2.0)  # mean k(x, x') + mean k(y, y') - 2 mean k(x, y)


def _blocks(flat: Tensor, *shaped: Tensor) -> list[Tensor]:
    """`flat` cut into consecutive views of the shapes of `shaped`."""
    views, offset = [], 0
    for tensor in shaped:
        views.append(flat[offset : offset + tensor.numel()].view(tensor.shape))
        offset += tensor.numel()
    return views


def _check_kernel(kernel: str) -> None:
    if kernel not in ("squared", "distance"):
        raise ValueError(f"kernel must be 'squared' or 'distance', got {kernel!r}")


def _mmd_from_grams(grams: tuple[Tensor, Tensor, Tensor], gamma: float, kernel: Kernel) -> Tensor:
    return _MMDFromGrams.apply(*grams, gamma, kernel == "distance")


def mmd_loss(x: Tensor, y: Tensor, gamma: float, kernel: Kernel = "squared") -> Tensor:
    """Biased MMD² estimate between the sets x `[..., D]` and y `[..., D]` (flattened to
    points): mean k(x, x') + mean k(y, y') - 2 mean k(x, y), with the RBF kernel
    exp(-γ‖x-y‖²) ("squared", the paper's Sec. 3.3) or exp(-γ‖x-y‖) ("distance", the
    reference code's `rbf`, `torch.norm` not squared). Pulls the two modalities' embedding
    distributions together so the K heads of each side stay comparable.

    Raises:
        ValueError: an unknown kernel.
    """
    _check_kernel(kernel)
    grams = _grams(x.reshape(-1, x.size(-1)), y.reshape(-1, y.size(-1)))
    return _mmd_from_grams(grams, gamma, kernel)


def mil_mmd_losses(
    video: Tensor,
    text: Tensor,
    margin: float,
    max_violation: bool,
    gamma: float,
    kernel: Kernel = "squared",
) -> tuple[Tensor, Tensor]:
    """`(mil_loss(video, text, margin, max_violation), mmd_loss(video, text, gamma, kernel))`
    from one video-text Gram matrix: the MIL scores are the MMD's cross term's Gram.

    Args:
        video: `[B, K, D]` L2-normalised video embeddings.
        text: `[B, K', D]` L2-normalised sentence embeddings; row i pairs with video i.
        margin, max_violation: as `mil_loss`.
        gamma, kernel: as `mmd_loss`.

    Returns:
        Two scalars, equal to the two functions' up to float rounding.

    Raises:
        ValueError: an unknown kernel.
    """
    _check_kernel(kernel)
    bv, k, d = video.shape
    bt, kt, _ = text.shape
    grams = _grams(video.reshape(bv * k, d), text.reshape(bt * kt, d))
    scores = _max_over_heads(grams[2], bv, k, bt, kt)
    mil = hinge_ranking_loss(scores, margin, hardest=max_violation)
    return mil, _mmd_from_grams(grams, gamma, kernel)


def combine_losses(
    mil: Tensor, weighted_terms: Mapping[str, tuple[float, Tensor]], relative: bool = False
) -> Tensor:
    """L_mil + Σ λ·L_term. With `relative`, each term is first rescaled to L_mil's magnitude
    (λ · (L_mil / L_term) · L_term, the ratio detached), so λ is a fraction of the ranking
    loss rather than an absolute weight; a term that is exactly 0 contributes nothing."""
    total = mil
    for weight, term in weighted_terms.values():
        scale = weight
        if relative:
            scale = weight * (mil.detach() / term.detach().clamp(min=torch.finfo(term.dtype).tiny))
        total = total + scale * term
    return total
