"""Pieces several baselines share: pooling over valid steps, word vectors, global encoders.

The ranking loss is `mrw.methods.ranking.hinge_ranking_loss`, the one every ranking method
uses, PVSE included, so each method states its paper's loss in one line and all of them share
one normalisation (summed over negatives, averaged over anchors).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.encoders import ImageEncoder, TextEncoder, VideoEncoder
from mrw.methods.ranking import hinge_ranking_loss


def masked_mean(x: Tensor, lengths: Tensor) -> Tensor:
    """Mean over the first `lengths[b]` steps of `x[b]` (`[B, T, F]` -> `[B, F]`); padding
    ignored."""
    steps = torch.arange(x.size(1), device=x.device)
    mask = (steps[None, :] < lengths.to(x.device)[:, None]).to(x.dtype)
    return (x * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1.0)


def standardizer(dim: int, enabled: bool = True) -> nn.Module:
    """Per-dimension z-scoring with running training statistics (BatchNorm without affine).

    In front of an affine first layer this changes conditioning, not the model class: the
    layer can absorb any mean and scale. It makes a method's learning rate independent of the
    feature scale (regional colour histograms are ~1e-2, ResNet activations ~1), and it makes
    an autoencoder weight every input dimension alike in its reconstruction error instead of
    letting a few high-variance ones (a clip's background colour) dominate it.
    """
    return nn.BatchNorm1d(dim, affine=False) if enabled else nn.Identity()


def word_embedding(context: MethodContext, dim: int = 300, trainable: bool = True) -> nn.Embedding:
    """An embedding table initialised from the context's word vectors (GloVe) when it has them.

    Without pretrained vectors the table is random (N(0, 1)); a fixed random table still
    gives each word a distinct direction, which is all bag-of-words methods need.
    """
    vectors = context.word_vectors
    if vectors is not None:
        table = nn.Embedding.from_pretrained(
            vectors.float().clone(), freeze=not trainable, padding_idx=0
        )
    else:
        table = nn.Embedding(context.vocab_size, dim, padding_idx=0)
        table.weight.requires_grad_(trainable)
    return table


def global_encoders(
    context: MethodContext, embed_dim: int, word_dim: int = 300, finetune_words: bool = True
) -> tuple[VideoEncoder | ImageEncoder, TextEncoder]:
    """PVSE's global encoders (video biGRU, or for images a linear layer on the average-pooled
    grid, as VSE++'s image side; text biGRU) whose outputs are the embedding.

    This is PVSE with PIE-Net removed: the methods built on it differ from PVSE only in
    their loss and similarity, never in the sequence models.
    """
    visual_class = ImageEncoder if context.visual == "image" else VideoEncoder
    video = visual_class(context.feature_dim, hidden_dim=embed_dim)
    text = TextEncoder(
        context.vocab_size,
        word_dim,
        hidden_dim=embed_dim,
        word_vectors=context.word_vectors,
        finetune_words=finetune_words,
    )
    return video, text


class GlobalEmbeddingMethod(Method):
    """PVSE's global encoders with PIE-Net removed: one embedding per instance, a hinge loss.

    The config needs `embed_dim`, `word_dim`, `finetune_words`, `margin` and `max_violation`.
    Subclasses choose how encoder states become embeddings (`embed`) and how pairs are
    scored (`similarity`); the loss is the hinge ranking loss on that same score, so what
    is trained is exactly what is ranked.
    """

    def __init__(self, config: Any, context: MethodContext) -> None:
        super().__init__(config, context)
        self.video_encoder, self.text_encoder = global_encoders(
            context, config.embed_dim, config.word_dim, config.finetune_words
        )

    def embed(self, states: Tensor) -> Tensor:
        """`[B, H]` final GRU states -> `[B, 1, H]` embeddings; default: L2-normalised."""
        return F.normalize(states, dim=-1).unsqueeze(1)

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        return self.embed(self.video_encoder(video, lengths).global_)

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self.embed(self.text_encoder(tokens, lengths).global_)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        scores = self.similarity(
            self.encode_video(batch.video, batch.video_lengths),
            self.encode_text(batch.tokens, batch.token_lengths),
        )
        rank = hinge_ranking_loss(scores, self.config.margin, hardest=self.config.max_violation)
        return {"total": rank, "rank": rank}
