"""Is PIE-Net's attention alive? An init-time check of how its K heads spread over the steps.

PIE-Net can only represent different meanings if its heads attend to different frames
(words). When the local features barely vary along the sequence (e.g. raw colour histograms
whose frames differ by ~1e-3 per dimension), the attention is uniform to several decimals
and every head pools the same average: K heads are then K copies of one embedding, and no
amount of training on the ranking loss separates them. Two numbers measured on a batch at
initialisation say so before any training is spent:

- the attention entropy H(α) against its maximum log T (T the valid steps): a ratio of 1
  means uniform attention;
- the mean total-variation distance ½‖α_i - α_j‖₁ between the heads' maps (K > 1): 0 means
  identical heads.
"""

from __future__ import annotations

import itertools
from typing import Any

import torch
from torch import Tensor

# Thresholds of "inert": attention this close to uniform, heads this close to each other.
INERT_ENTROPY_RATIO = 0.99
INERT_HEAD_TV = 0.02


def attention_activity(attention: Tensor, mask: Tensor) -> dict[str, Any]:
    """Entropy and head spread of attention maps.

    Args:
        attention: `[B, K, T]` float, each row a distribution over the valid steps.
        mask: `[B, T]` bool, True on valid steps.

    Returns:
        {"entropy": mean H(α) in nats, "max_entropy": mean log T over the same rows,
        "entropy_ratio": their ratio, "head_tv": mean total-variation distance over head
        pairs (None for K = 1), "inert": whether the ratio is above `INERT_ENTROPY_RATIO` or
        the head distance below `INERT_HEAD_TV`}. Instances with a single valid step (where
        attention has no choice) are left out; None values when none is left.
    """
    lengths = mask.sum(1)
    usable = lengths > 1
    if not bool(usable.any()):
        return {"entropy": None, "max_entropy": None, "entropy_ratio": None, "head_tv": None}
    alpha = attention[usable].double()
    entropy = -(alpha * alpha.clamp(min=1e-300).log()).sum(-1).mean()
    max_entropy = lengths[usable].double().log().mean()
    ratio = float(entropy / max_entropy)
    k = alpha.size(1)
    head_tv = None
    if k > 1:
        distances = [
            0.5 * (alpha[:, i] - alpha[:, j]).abs().sum(-1).mean()
            for i, j in itertools.combinations(range(k), 2)
        ]
        head_tv = float(torch.stack(distances).mean())
    inert = ratio > INERT_ENTROPY_RATIO or (head_tv is not None and head_tv < INERT_HEAD_TV)
    return {
        "entropy": float(entropy),
        "max_entropy": float(max_entropy),
        "entropy_ratio": ratio,
        "head_tv": head_tv,
        "inert": inert,
    }


def describe_inert(check: dict[str, dict[str, Any]]) -> str | None:
    """A one-line warning when the video side of an `init_check` result is inert, else None.

    Only the video side warns: its local features are fixed (cached frame features), so
    uniform attention there stays uniform. The text side's local features are word
    embeddings that train with the model (and random ones start small), so its init-time
    numbers are recorded for information only.
    """
    video = check.get("video")
    if not video or not video.get("inert"):
        return None
    spread = f", head TV distance {video['head_tv']:.2g}" if video["head_tv"] is not None else ""
    return (
        f"PIE-Net looks inert at initialisation: video attention entropy {video['entropy']:.4f} "
        f"of log T = {video['max_entropy']:.4f} nats{spread}. Its heads attend (almost) "
        "uniformly or identically, so K > 1 cannot represent different moments; standardise "
        "the frame features (--standardize-features) or check that frames differ."
    )
