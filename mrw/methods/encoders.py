"""Global encoders shared by PVSE and the baselines: video biGRU, text biGRU, image fc.

Each encoder returns an `Encoded`: the global feature Φ (one vector per instance) and the
local features Ψ with their validity mask, which is what PIE-Net attends over — per-frame
CNN features for video, word embeddings for text, the 7x7 grid cells for images (as in the
paper). Keeping both in one place means PVSE's ablations and the baselines reuse exactly the
same sequence models, so a difference in results is a difference in method.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence


@dataclass
class Encoded:
    """What an encoder produces for a batch.

    global_: `[B, H]` global feature Φ, or None when the encoder was built without one;
    local: `[B, T, F]` local features Ψ; mask: `[B, T]` True where `local` is valid.
    """

    global_: Tensor | None
    local: Tensor
    mask: Tensor


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """`[B]` lengths -> `[B, max_len]` bool mask, True on valid steps.

    Lengths are clamped to at least 1 so an empty instance still attends somewhere (its
    first, zero-padded, step) instead of producing NaNs from a softmax over nothing.
    """
    lengths = lengths.to(torch.long).clamp(min=1, max=max_len)
    steps = torch.arange(max_len, device=lengths.device)
    return steps[None, :] < lengths[:, None]


class BiGRU(nn.Module):
    """Bidirectional GRU whose concatenated final hidden states form an H-d global feature."""

    def __init__(self, input_dim: int, hidden_dim: int) -> None:
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"hidden_dim must be even (two directions), got {hidden_dim}")
        self.output_dim = hidden_dim
        self.gru = nn.GRU(input_dim, hidden_dim // 2, batch_first=True, bidirectional=True)

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """Run the GRU over the valid steps only (packed sequence).

        Args:
            x: `[B, T, input_dim]` float inputs, padded.
            lengths: `[B]` valid steps (clamped to [1, T]).

        Returns:
            `[B, H]`: the forward direction's last state and the backward direction's first,
            concatenated.
        """
        lengths = lengths.to("cpu", torch.long).clamp(min=1, max=x.size(1))
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        _, hidden = self.gru(packed)  # [2, B, H/2]: last step forwards, first step backwards
        return hidden.transpose(0, 1).reshape(x.size(0), self.output_dim)


class _VisualEncoder(nn.Module):
    """Local features `[B, N, F]` (frames or grid cells) -> `Encoded`: Ψ = the features as
    given, Φ = a learned summary of the valid ones (None when `with_global` is false).
    Subclasses set `summary` (the module) and `summarise` (how it reads the features)."""

    def __init__(self, feature_dim: int, hidden_dim: int, dropout: float) -> None:
        super().__init__()
        self.local_dim = feature_dim
        self.global_dim = hidden_dim
        self.dropout = nn.Dropout(dropout)

    def summarise(self, features: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """`[B, N, F]` -> Φ `[B, H]`."""
        raise NotImplementedError

    def has_global(self) -> bool:
        """Whether the encoder computes Φ (the `no_global` ablation does not)."""
        raise NotImplementedError

    def forward(self, features: Tensor, lengths: Tensor) -> Encoded:
        """`[B, N, F]` local features and `[B]` valid counts -> `Encoded` (Φ `[B, H]`)."""
        mask = length_mask(lengths.to(features.device), features.size(1))
        global_ = None
        if self.has_global():
            global_ = self.dropout(self.summarise(features, lengths, mask))
        return Encoded(global_, features, mask)


class VideoEncoder(_VisualEncoder):
    """Frames `[B, T, F]` (per-frame CNN features) -> Φ by biGRU; Ψ = the frame features."""

    def __init__(
        self,
        feature_dim: int,
        hidden_dim: int = 1024,
        with_global: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(feature_dim, hidden_dim, dropout)
        self.rnn = BiGRU(feature_dim, hidden_dim) if with_global else None

    def has_global(self) -> bool:
        """Whether the biGRU exists."""
        return self.rnn is not None

    def summarise(self, features: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """The biGRU's final states over the valid frames."""
        return self.rnn(features, lengths)


class ImageEncoder(_VisualEncoder):
    """A 7x7xF grid flattened to `[B, 49, F]` -> Φ = fc(average pool); Ψ = the grid cells.

    The image variant of PVSE (MS-COCO in the paper); the "lengths" of a grid are all 49,
    but masking is honoured so padded inputs behave like the video encoder's.
    """

    def __init__(
        self,
        feature_dim: int,
        hidden_dim: int = 1024,
        with_global: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__(feature_dim, hidden_dim, dropout)
        self.fc = nn.Linear(feature_dim, hidden_dim) if with_global else None

    def has_global(self) -> bool:
        """Whether the linear layer exists."""
        return self.fc is not None

    def summarise(self, features: Tensor, lengths: Tensor, mask: Tensor) -> Tensor:
        """The linear layer applied to the mean of the valid cells."""
        weights = mask.to(features.dtype)[..., None]
        return self.fc((features * weights).sum(1) / weights.sum(1))


class TextEncoder(nn.Module):
    """Token ids `[B, L]` -> 300-d word embeddings (Ψ) -> biGRU final states (Φ).

    `word_vectors` (`[V, word_dim]`, e.g. GloVe rows for the vocabulary) initialises the
    table; otherwise it is Xavier-initialised. Id 0 is padding.
    """

    def __init__(
        self,
        vocab_size: int,
        word_dim: int = 300,
        hidden_dim: int = 1024,
        word_vectors: Tensor | None = None,
        finetune_words: bool = True,
        with_global: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.local_dim = word_dim
        self.global_dim = hidden_dim
        self.embed = nn.Embedding(vocab_size, word_dim, padding_idx=0)
        if word_vectors is not None:
            if tuple(word_vectors.shape) != (vocab_size, word_dim):
                raise ValueError(
                    f"word_vectors must be [{vocab_size}, {word_dim}], "
                    f"got {list(word_vectors.shape)}"
                )
            with torch.no_grad():
                self.embed.weight.copy_(word_vectors)
        else:
            nn.init.xavier_uniform_(self.embed.weight)
        self.embed.weight.requires_grad_(finetune_words)
        self.rnn = BiGRU(word_dim, hidden_dim) if with_global else None
        self.dropout = nn.Dropout(dropout)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Encoded:
        """`[B, L]` int64 ids and `[B]` valid tokens -> `Encoded` (Ψ `[B, L, word_dim]`).

        Dropout applies to the word embeddings (so to Ψ as well) and again to Φ.
        """
        words = self.dropout(self.embed(tokens))
        mask = length_mask(lengths.to(tokens.device), tokens.size(1))
        global_ = self.dropout(self.rnn(words, lengths)) if self.rnn is not None else None
        return Encoded(global_, words, mask)
