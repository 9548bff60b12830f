"""PIE-Net (Polysemous Instance Embedding, Song & Soleymani 2019, Sec. 3.1).

K attention heads pool the local features Ψ `[B, T, F]` into K locally-guided features:

    α = softmax_T(w2 tanh(w1 Ψᵀ))            w1: F -> A (A = F/2), w2: A -> K, padding masked
    Υ = sigmoid(fc(α Ψ))                     fc: F -> D, one residual per head
    z_k = LayerNorm(Φ + Υ_k), L2-normalised  Φ: the global feature, broadcast over heads

The residual form lets each head nudge the shared global context towards one "meaning";
`fusion` selects the paper's ablations: "residual" (the model), "local" (no global
feature: z = LayerNorm(Υ)) and "concat" (no residual learning: z = LayerNorm([Φ; Υ]), 2D-d).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Fusion = Literal["residual", "local", "concat"]


@dataclass
class PIEOutput:
    """embeddings: `[B, K, D']` L2-normalised; residuals: `[B, K, D]` Υ (what the diversity
    loss acts on); attention: `[B, K, T]` α, rows sum to 1 over valid steps."""

    embeddings: Tensor
    residuals: Tensor
    attention: Tensor


class MultiHeadAttentionPool(nn.Module):
    """Structured self-attention (Lin et al. 2017): K softmax distributions over T steps."""

    def __init__(self, num_heads: int, input_dim: int, attention_dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(input_dim, attention_dim, bias=False)
        self.w2 = nn.Linear(attention_dim, num_heads, bias=False)
        nn.init.xavier_uniform_(self.w1.weight)
        nn.init.xavier_uniform_(self.w2.weight)

    def forward(self, local: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Pool `[B, T, F]` local features with K attention heads.

        Args:
            local: `[B, T, F]` float local features Ψ.
            mask: `[B, T]` bool, True at valid steps. A row with no valid step gives NaN
                attention (softmax over all -inf).

        Returns:
            `[B, K, F]` pooled features α Ψ and the `[B, K, T]` attention α.
        """
        logits = self.w2(torch.tanh(self.w1(local)))  # [B, T, K]
        logits = logits.masked_fill(~mask[..., None], float("-inf"))
        attention = logits.softmax(dim=1).transpose(1, 2)  # [B, K, T]
        return attention @ local, attention  # [B, K, F]


class PIENet(nn.Module):
    """PIE-Net: K attention-pooled residuals fused with the global feature (module doc).

    Args:
        num_embeds: Number of heads K (embeddings per instance).
        local_dim: F, size of the local features; the attention size is A = max(F // 2, 1).
        embed_dim: D, size of the global feature and of each residual.
        fusion: "residual" (the paper's model), "local" or "concat" (its ablations).
        dropout: Dropout on the residuals Υ.

    Raises:
        ValueError: If `num_embeds < 1`.
    """

    def __init__(
        self,
        num_embeds: int,
        local_dim: int,
        embed_dim: int,
        fusion: Fusion = "residual",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_embeds < 1:
            raise ValueError(f"PIE-Net needs at least one head, got {num_embeds}")
        self.num_embeds = num_embeds
        self.fusion = fusion
        self.attention = MultiHeadAttentionPool(num_embeds, local_dim, max(local_dim // 2, 1))
        self.fc = nn.Linear(local_dim, embed_dim)
        nn.init.xavier_uniform_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)
        self.dropout = nn.Dropout(dropout)
        self.norm = nn.LayerNorm(2 * embed_dim if fusion == "concat" else embed_dim)

    def forward(self, global_: Tensor | None, local: Tensor, mask: Tensor) -> PIEOutput:
        """Compute the K embeddings of each instance.

        Args:
            global_: `[B, D]` global feature Φ; may be None only with fusion "local".
            local: `[B, T, F]` local features Ψ.
            mask: `[B, T]` bool, True at valid steps.

        Returns:
            A `PIEOutput`; embeddings are `[B, K, D]` (`[B, K, 2D]` with fusion "concat").

        Raises:
            ValueError: If `global_` is None and fusion is not "local".
        """
        pooled, attention = self.attention(local, mask)
        residuals = self.dropout(torch.sigmoid(self.fc(pooled)))  # Υ: [B, K, D]
        if self.fusion == "local":
            fused = residuals
        else:
            if global_ is None:
                raise ValueError(f"fusion {self.fusion!r} needs a global feature")
            global_ = global_[:, None, :].expand_as(residuals)
            fused = (
                global_ + residuals
                if self.fusion == "residual"
                else torch.cat([global_, residuals], -1)
            )
        return PIEOutput(F.normalize(self.norm(fused), dim=-1), residuals, attention)
