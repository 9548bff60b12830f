"""Dual-path embedding with instance loss (Zheng et al., "Dual-Path Convolutional Image-Text
Embeddings with Instance Loss", ACM TOMM 2020; arXiv 2017).

A residual text CNN path and a visual path map into one space. Stage I trains with the
instance loss only: every training pair is its own class, and one classifier, shared by both
paths, must recognise the pair from either its video or its sentence (cross-entropy on each).
Sharing the classifier is what pulls the two paths into the same space. Stage II adds the
bidirectional ranking loss on cosine similarity (hardest negative in the batch by default).
The stage follows the epoch number given to `on_epoch_start`; retrieval uses cosine similarity.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from baselines.common import masked_mean, word_embedding
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.ranking import hinge_ranking_loss
from mrw.methods.registry import register_method


@dataclass
class DualPathConfig:
    """Hyper-parameters of the dual-path model (defaults: Zheng et al. where noted).

    Attributes:
        embed_dim: Joint embedding size (1024, the size every method here uses).
        word_dim: Word-vector size when the context has none (GloVe's 300 otherwise).
        text_channels: Channels of the text CNN after the 1x1 projection.
        text_blocks: Residual blocks of width-2 convolutions in the text path.
        dropout: Dropout before the shared instance classifier (0.5, the paper's fc layers).
        margin: Ranking margin of stage II (1, Zheng et al.).
        max_violation: Stage II ranks against the hardest negative; False sums them.
        stage1_epochs: Epochs of instance loss alone before the ranking loss joins.
        ranking_weight: lambda_1, weight of the ranking loss in stage II.
        instance_weight: lambda_2 = lambda_3, weight of the video and text instance losses.
    """

    embed_dim: int = 1024
    word_dim: int = 300
    text_channels: int = 512
    text_blocks: int = 2  # residual blocks of width-2 convolutions in the text path
    dropout: float = 0.5  # before the shared classifier, as in the paper's fc layers
    margin: float = 1.0  # ranking margin of stage II (Zheng et al. use 1)
    max_violation: bool = True  # stage II ranks against the hardest negative; False sums them
    stage1_epochs: int = 5  # epochs of instance loss alone before the ranking loss joins
    ranking_weight: float = 1.0  # lambda_1 of stage II
    instance_weight: float = 1.0  # lambda_2 = lambda_3 (video and text instance losses)


class _ResidualConvBlock(nn.Module):
    """conv(k=2) -> BN -> ReLU -> conv(k=2) -> BN, plus the input: the unit of the text CNN."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.ConstantPad1d((0, 1), 0.0),  # each position sees itself and the next word
            nn.Conv1d(channels, channels, kernel_size=2, bias=False),
            nn.BatchNorm1d(channels),
            nn.ReLU(inplace=True),
            nn.ConstantPad1d((0, 1), 0.0),
            nn.Conv1d(channels, channels, kernel_size=2, bias=False),
            nn.BatchNorm1d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return F.relu(x + self.body(x))


class TextCNN(nn.Module):
    """Word vectors -> 1x1 projection -> residual convolutions -> max over valid positions."""

    def __init__(self, words: nn.Embedding, channels: int, blocks: int, out_dim: int) -> None:
        super().__init__()
        self.words = words
        self.project = nn.Conv1d(words.embedding_dim, channels, kernel_size=1)
        self.blocks = nn.ModuleList(_ResidualConvBlock(channels) for _ in range(blocks))
        self.out = nn.Linear(channels, out_dim)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Encode sentences.

        Args:
            tokens: `[B, L]` int64 word ids, 0 = padding.
            lengths: `[B]` valid tokens (0 is treated as 1).

        Returns:
            `[B, out_dim]` float features, not normalised.
        """
        positions = torch.arange(tokens.size(1), device=tokens.device)
        valid = (positions[None, :] < lengths.to(tokens.device).clamp(min=1)[:, None])[:, None, :]
        # Padding is re-zeroed after every layer, so a sentence's embedding does not depend on
        # how much padding its batch adds (the width-2 convolutions look one word ahead).
        x = self.project(self.words(tokens).transpose(1, 2)) * valid  # [B, C, L]
        for block in self.blocks:
            x = block(x) * valid
        return self.out(x.masked_fill(~valid, float("-inf")).amax(dim=2))


@register_method
class DualPath(Method):
    """Dual-path embedding: instance loss (stage I), then instance + ranking loss (stage II)."""

    name = "dual_path"
    paper = (
        'Zheng et al., "Dual-Path Convolutional Image-Text Embeddings with Instance Loss", '
        "TOMM 2020"
    )
    config_class = DualPathConfig

    def __init__(self, config: DualPathConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.text_path = TextCNN(
            word_embedding(context, config.word_dim),
            config.text_channels,
            config.text_blocks,
            config.embed_dim,
        )
        self.visual_path = nn.Sequential(
            nn.Linear(context.feature_dim, config.embed_dim),
            nn.BatchNorm1d(config.embed_dim),
            nn.ReLU(inplace=True),
            nn.Linear(config.embed_dim, config.embed_dim),
        )
        self.classifier = nn.Sequential(
            nn.Dropout(config.dropout), nn.Linear(config.embed_dim, context.num_train_pairs)
        )
        self.stage = 1

    def on_epoch_start(self, epoch: int) -> None:
        """Stage 1 while `epoch < stage1_epochs` (epochs counted from 0), else stage 2."""
        self.stage = 1 if epoch < self.config.stage1_epochs else 2

    def _video_features(self, video: Tensor, lengths: Tensor) -> Tensor:
        return self.visual_path(masked_mean(video, lengths))

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """Visual path (MLP on the frame-mean feature), L2-normalised.

        Args:
            video: `[B, T, F]` float frame features, zero-padded.
            lengths: `[B]` number of valid frames.

        Returns:
            `[B, 1, embed_dim]` unit-norm embeddings.
        """
        return F.normalize(self._video_features(video, lengths), dim=-1).unsqueeze(1)

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Text CNN path, L2-normalised.

        Args:
            tokens: `[B, L]` int64 word ids, 0 = padding.
            lengths: `[B]` number of valid tokens.

        Returns:
            `[B, 1, embed_dim]` unit-norm embeddings.
        """
        return F.normalize(self.text_path(tokens, lengths), dim=-1).unsqueeze(1)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Instance loss (Zheng et al.), plus the ranking loss in stage II.

        The instance loss is the cross-entropy of one classifier, shared by both paths, over
        `num_train_pairs` classes, with `batch.pair_ids` as labels; it acts on the
        unnormalised path outputs. The ranking loss is the bidirectional hinge on cosine.

        Args:
            batch: Aligned pairs; `pair_ids` must index the training split.

        Returns:
            Scalar tensors "total", "instance_video", "instance_text" and, in stage II, "rank".
        """
        video = self._video_features(batch.video, batch.video_lengths)
        text = self.text_path(batch.tokens, batch.token_lengths)
        instance_video = F.cross_entropy(self.classifier(video), batch.pair_ids)
        instance_text = F.cross_entropy(self.classifier(text), batch.pair_ids)
        instance = instance_video + instance_text
        terms = {"instance_video": instance_video, "instance_text": instance_text}
        total = self.config.instance_weight * instance
        if self.stage >= 2:
            scores = F.normalize(video, dim=-1) @ F.normalize(text, dim=-1).T
            rank = hinge_ranking_loss(scores, self.config.margin, hardest=self.config.max_violation)
            terms["rank"] = rank
            total = total + self.config.ranking_weight * rank
        return {"total": total, **terms}
