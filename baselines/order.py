"""Order embeddings (Vendrov et al., ICLR 2016): retrieval as a partial order, not a distance.

Embeddings live in the non-negative orthant (absolute values of the L2-normalised encoder
outputs). In the reversed product order, smaller coordinates are more general, so a sentence
(an abstraction of the clip) should lie coordinate-wise below its video. The order-violation
penalty is `E(v, t) = ||max(0, t - v)||^2`, zero exactly when t <= v; training uses the
paper's contrastive hinge with negatives summed in both directions, and retrieval ranks by
`-E`. Encoders are PVSE's global ones, as for VSE++.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from baselines.common import GlobalEmbeddingMethod
from mrw.methods.registry import register_method

# Upper bound on the elements of the `[rows, Nt, D]` difference tensor built per step.
_CHUNK_ELEMENTS = 2**25


def order_violation(video: Tensor, text: Tensor) -> Tensor:
    """`[Nv, D]` x `[Nt, D]` -> `[Nv, Nt]` penalties `||max(0, t - v)||^2`, in bounded memory."""
    rows = max(1, _CHUNK_ELEMENTS // max(text.numel(), 1))
    blocks = [
        (text[None, :, :] - video[start : start + rows, None, :]).clamp(min=0).pow(2).sum(-1)
        for start in range(0, video.size(0), rows)
    ]
    return torch.cat(blocks) if blocks else video.new_zeros(0, text.size(0))


@dataclass
class OrderConfig:
    """Hyper-parameters of order embeddings.

    Attributes:
        embed_dim: Embedding size D (1024, the size every method here uses).
        word_dim: Word-vector size when the context has none (GloVe's 300 otherwise).
        margin: Hinge margin on the order-violation score (0.05, Vendrov et al.).
        max_violation: Hardest negative only; False (Vendrov et al.) sums all negatives.
        finetune_words: Train the word vectors along with the encoders.
    """

    embed_dim: int = 1024
    word_dim: int = 300
    margin: float = 0.05  # Vendrov et al.
    max_violation: bool = False  # Vendrov et al. sum over the contrastive terms
    finetune_words: bool = True


@register_method
class OrderEmbedding(GlobalEmbeddingMethod):
    """Order embeddings: non-negative embeddings ranked by negative order violation."""

    name = "order"
    paper = 'Vendrov et al., "Order-Embeddings of Images and Language", ICLR 2016'
    config_class = OrderConfig
    default_lr = 1e-3  # Vendrov et al. (Adam)

    def embed(self, states: Tensor) -> Tensor:
        """Absolute values of the L2-normalised states: the non-negative orthant."""
        return super().embed(states).abs()

    def similarity(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """Negative order violation (K = 1): the higher, the closer t is to being below v."""
        return -order_violation(video_emb[:, 0], text_emb[:, 0])
