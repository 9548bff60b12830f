"""PVSE's training losses on `[B, K, D]` L2-normalised embeddings (paper Sec. 3.2-3.3).

    L = L_mil + λ1 L_div + λ2 L_mmd

All terms are vectorised and memory-lean: the largest intermediate is a `[B·K, B·K]`
matrix, never a `[·, ·, D]` tensor of pairwise differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor

from mrw.methods.ranking import hinge_ranking_loss

Kernel = Literal["squared", "distance"]


def mil_similarity(video: Tensor, text: Tensor) -> Tensor:
    """`[Bv, K, D]` x `[Bt, K', D]` -> `[Bv, Bt]`: the best cosine over each pair's K x K'
    embedding pairs (the multiple-instance view: one matching pair of meanings suffices)."""
    bv, k, d = video.shape
    bt, kt, _ = text.shape
    scores = video.reshape(bv * k, d) @ text.reshape(bt * kt, d).T
    return scores.view(bv, k, bt, kt).amax(dim=(1, 3))


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
        normalise: L2-normalise the rows before forming G.

    Returns:
        A scalar, 0 when the K rows are orthonormal. Pushes the heads apart: on Υ towards
        different directions of the embedding space, on α towards different frames/words.
    """
    rows = F.normalize(heads, dim=-1) if normalise else heads
    k = rows.size(1)
    gram = rows @ rows.transpose(1, 2)
    identity = torch.eye(k, dtype=gram.dtype, device=gram.device)
    return torch.linalg.matrix_norm(gram - identity).mean() / k**2


def _pairwise_sq_dists(a: Tensor, b: Tensor) -> Tensor:
    """`[N, D]` x `[M, D]` -> `[N, M]` squared Euclidean distances as ‖a‖² + ‖b‖² - 2 a·b:
    one fused matmul (`addmm`) and N x M memory instead of an N x M x D difference tensor."""
    sq_norms = a.square().sum(-1)[:, None] + b.square().sum(-1)[None, :]
    return torch.addmm(sq_norms, a, b.T, alpha=-2)


def _safe_sqrt(x: Tensor) -> Tensor:
    """sqrt with a zero (not infinite) gradient at 0, as `torch.norm` of a zero vector."""
    positive = x > 0
    return torch.where(positive, x.clamp(min=torch.finfo(x.dtype).tiny).sqrt(), torch.zeros_like(x))


def rbf_kernel(a: Tensor, b: Tensor, gamma: float, kernel: Kernel = "squared") -> Tensor:
    """`[N, D]` x `[M, D]` -> `[N, M]` RBF kernel: exp(-γ‖a-b‖²) ("squared", the paper's
    kernel) or exp(-γ‖a-b‖) ("distance", what the reference code computes).

    Rounding in the matmul form leaves ~1e-7 where a = b; harmless under exp, but under the
    square root it would be a spurious distance of ~3e-4 with a huge gradient, so the
    distance kernel clamps at 0 and sets a point's distance to itself to exactly 0.
    """
    dists = _pairwise_sq_dists(a, b)
    if kernel == "squared":
        return torch.exp(dists.mul(-gamma))
    if kernel != "distance":
        raise ValueError(f"kernel must be 'squared' or 'distance', got {kernel!r}")
    dists = dists.clamp(min=0)
    if a is b:
        is_self = torch.eye(a.size(0), dtype=torch.bool, device=a.device)
        dists = dists.masked_fill(is_self, 0.0)
    return torch.exp(_safe_sqrt(dists).mul(-gamma))


def mmd_loss(x: Tensor, y: Tensor, gamma: float, kernel: Kernel = "squared") -> Tensor:
    """Biased MMD² estimate between the sets x `[..., D]` and y `[..., D]` (flattened to
    points): mean k(x, x') + mean k(y, y') - 2 mean k(x, y). Pulls the two modalities'
    embedding distributions together so the K heads of each side stay comparable.
    """
    x = x.reshape(-1, x.size(-1))
    y = y.reshape(-1, y.size(-1))
    return (
        rbf_kernel(x, x, gamma, kernel).mean()
        + rbf_kernel(y, y, gamma, kernel).mean()
        - 2 * rbf_kernel(x, y, gamma, kernel).mean()
    )


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
