"""DeViSE (Frome et al., NIPS 2013): map the visual feature linearly into the word-vector space.

The language side is not learned: a sentence is the mean of its (GloVe) word vectors,
L2-normalised as DeViSE normalises its label vectors. The only trained parameters are the
linear map M (of the z-scored frame-mean feature, see `standardizer`), fitted with the
paper's hinge rank loss summed over all negative sentences in the batch,
`sum_j max(0, margin - t_i . M v_i + t_j . M v_i)`, and pairs are ranked by the dot product
`t . M v`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor, nn

from baselines.common import masked_mean, standardizer, word_embedding
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.ranking import hinge_ranking_loss
from mrw.methods.registry import register_method


@dataclass
class DeViSEConfig:
    """Hyper-parameters of DeViSE.

    Attributes:
        margin: Hinge margin of the rank loss (0.1, Frome et al.).
        word_dim: Size of the word-vector space when the context has no vectors; with GloVe
            vectors the space takes their size (300).
        finetune_words: Train the word vectors (False: DeViSE keeps the language model fixed).
        standardize: Z-score the frame-mean feature before the linear map (`standardizer`).
    """

    margin: float = 0.1  # Frome et al. use 0.1
    word_dim: int = 300  # the word-vector space the video is mapped into
    finetune_words: bool = False  # DeViSE keeps the language model fixed
    standardize: bool = True  # z-score the visual feature before the map


@register_method
class DeViSE(Method):
    """DeViSE: a linear map of the visual feature into a fixed word-vector space (module doc)."""

    name = "devise"
    paper = 'Frome et al., "DeViSE: A Deep Visual-Semantic Embedding Model", NIPS 2013'
    config_class = DeViSEConfig
    # No Adam rate in the paper (SGD on a CNN): the harness's default (PVSE's 2e-4);
    # `mrw-bench tune` chooses one per dataset.

    def __init__(self, config: DeViSEConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.words = word_embedding(context, config.word_dim, trainable=config.finetune_words)
        self.standardize = standardizer(context.feature_dim, config.standardize)
        self.visual_map = nn.Linear(context.feature_dim, self.words.embedding_dim)

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """`M v`: the linear map of the standardised frame-mean feature.

        Args:
            video: `[B, T, F]` float frame features, zero-padded.
            lengths: `[B]` number of valid frames.

        Returns:
            `[B, 1, W]` embeddings (W = word-vector size), not normalised.
        """
        return self.visual_map(self.standardize(masked_mean(video, lengths))).unsqueeze(1)

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """The L2-normalised mean of the sentence's word vectors.

        Args:
            tokens: `[B, L]` int64 word ids, 0 = padding.
            lengths: `[B]` number of valid tokens.

        Returns:
            `[B, 1, W]` unit-norm embeddings.
        """
        return F.normalize(masked_mean(self.words(tokens), lengths), dim=-1).unsqueeze(1)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Frome et al.'s hinge rank loss, video-to-text only, negatives summed.

        Args:
            batch: Aligned (video, sentence) pairs; the other sentences of the batch are
                the negatives.

        Returns:
            Scalar tensors "total" and "rank" (the same value).
        """
        video = self.encode_video(batch.video, batch.video_lengths)[:, 0]
        text = self.encode_text(batch.tokens, batch.token_lengths)[:, 0]
        # DeViSE ranks labels for an image: one direction, negatives summed.
        rank = hinge_ranking_loss(video @ text.T, self.config.margin, directions=("v2t",))
        return {"total": rank, "rank": rank}
