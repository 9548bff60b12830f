"""The bidirectional triplet hinge every ranking method trains with: one loss normalisation.

Every ranking method scores a batch as a `[B, B]` matrix whose diagonal holds the true pairs
(PVSE's is the best cosine over the K x K embedding pairs). The papers differ only in which
directions they rank, whether the hardest negative is taken or negatives are summed, and the
margin; `hinge_ranking_loss` expresses exactly those choices. Keeping one function for PVSE
and every baseline keeps their losses on one scale: with gradient-norm clipping a loss that
averaged over negatives where another sums would not differ by a constant factor but by how
often the clip fires, i.e. by the effective learning rate.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from leaderboard.metrics import DIRECTIONS


def hinge_ranking_loss(
    scores: Tensor,
    margin: float,
    hardest: bool = False,
    directions: Sequence[str] = DIRECTIONS,
) -> Tensor:
    """Bidirectional (or one-way) triplet hinge over a batch score matrix.

    Args:
        scores: `[B, B]` float, `scores[i, j]` scores video i against sentence j; the
            diagonal holds the true pairs.
        margin: the hinge margin m.
        hardest: keep only the largest cost per anchor (VSE++'s max of hinges, Faghri et al.
            2018, Eq. 5) instead of summing the costs over the B-1 negatives (Frome et al.
            2013; Kiros et al. 2014; Song & Soleymani 2019, Eq. 4).
        directions: which anchors to rank for: "v2t" (videos, negatives are the other
            sentences of the row) and/or "t2v" (sentences, the other videos of the column).

    Returns:
        A scalar: per anchor the cost of a negative is `max(0, m - s(pos) + s(neg))`, summed
        over negatives (or the hardest), averaged over the B anchors; the directions added.

    Raises:
        ValueError: for an empty or unknown direction.
    """
    unknown = set(directions) - set(DIRECTIONS)
    if unknown or not directions:
        raise ValueError(f"directions must be drawn from {DIRECTIONS}, got {tuple(directions)}")
    positives = scores.diagonal()
    off_diagonal = ~torch.eye(scores.size(0), dtype=torch.bool, device=scores.device)
    total = scores.new_zeros(())
    for direction in directions:
        oriented = scores if direction == "v2t" else scores.T
        costs = (margin - positives[:, None] + oriented).clamp(min=0) * off_diagonal
        per_anchor = costs.amax(dim=1) if hardest else costs.sum(dim=1)
        total = total + per_anchor.mean()
    return total
