"""Aligned (video, sentence) pairs of one split -> padded `Batch`es.

Videos are stored once (TGIF has several sentences per video) and pairs point at them, so a
split's features take the memory of its videos, not of its pairs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mrw.bench.method import Batch
from mrw.bench.text import PAD_ID, Vocabulary


@dataclass
class SplitFeatures:
    """One split as the feature cache stores it.

    features: `[Nv, T, F]` per-frame CNN features of each distinct video, zero-padded;
    lengths: `[Nv]` valid frames; pair_ids / sentences: one entry per pair (dataset row);
    pair_video: `[Np]` index of each pair's video in `video_ids`; skipped: videos left out
    because their media did not decode (id -> reason).
    """

    video_ids: list[str]
    features: Tensor
    lengths: Tensor
    pair_ids: list[str]
    sentences: list[str]
    pair_video: Tensor
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def feature_dim(self) -> int:
        return int(self.features.shape[-1])

    def to_dict(self) -> dict:
        return {
            "video_ids": self.video_ids,
            "features": self.features,
            "lengths": self.lengths,
            "pair_ids": self.pair_ids,
            "sentences": self.sentences,
            "pair_video": self.pair_video,
            "skipped": self.skipped,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SplitFeatures:
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def pad_tokens(sequences: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
    """Token id lists -> (`[N, L]` ids padded with 0, `[N]` lengths)."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    tokens = torch.full(
        (len(sequences), int(lengths.max()) if len(sequences) else 0), PAD_ID, dtype=torch.long
    )
    for row, seq in enumerate(sequences):
        tokens[row, : len(seq)] = torch.as_tensor(seq, dtype=torch.long)
    return tokens, lengths


class PairData:
    """A split ready for training and evaluation: features plus encoded sentences."""

    def __init__(self, split: SplitFeatures, vocab: Vocabulary) -> None:
        self.split = split
        self.tokens = [vocab.encode(sentence) for sentence in split.sentences]

    @property
    def num_pairs(self) -> int:
        return len(self.tokens)

    @property
    def num_videos(self) -> int:
        return len(self.split.video_ids)

    def _video(self, video_index: Tensor) -> tuple[Tensor, Tensor]:
        lengths = self.split.lengths[video_index]
        width = max(int(lengths.max()), 1) if len(video_index) else 1
        return self.split.features[video_index, :width].float(), lengths

    def batch(self, pair_index: Tensor) -> Batch:
        """The pairs at `pair_index` as one padded batch (video padded to its longest clip)."""
        video, video_lengths = self._video(self.split.pair_video[pair_index])
        tokens, token_lengths = pad_tokens([self.tokens[i] for i in pair_index.tolist()])
        return Batch(video, video_lengths, tokens, token_lengths, pair_index.clone())

    def train_batches(
        self,
        batch_size: int,
        generator: torch.Generator,
        rank: int = 0,
        world_size: int = 1,
        drop_last: bool = True,
    ) -> Iterator[Batch]:
        """Shuffled batches; under DDP each rank takes its share of every global batch.

        The permutation comes from `generator` alone, so every rank (and a resumed run that
        re-seeds it per epoch) sees the same order.
        """
        order = torch.randperm(self.num_pairs, generator=generator)
        per_rank = max(batch_size // world_size, 1)
        step = per_rank * world_size
        stop = (
            self.num_pairs - self.num_pairs % step
            if drop_last and self.num_pairs >= step
            else self.num_pairs
        )
        for start in range(0, stop, step):
            chunk = order[start : start + step][rank::world_size]
            if len(chunk) >= 2:  # ranking losses need at least one negative
                yield self.batch(chunk)

    def num_train_batches(self, batch_size: int, world_size: int = 1) -> int:
        step = max(batch_size // world_size, 1) * world_size
        return max(self.num_pairs // step, 1)

    def video_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Every distinct video once, in `video_ids` order: (`[B, T, F]`, `[B]`)."""
        for start in range(0, self.num_videos, batch_size):
            yield self._video(torch.arange(start, min(start + batch_size, self.num_videos)))

    def text_batches(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """Every sentence once, in pair order: (`[B, L]` ids, `[B]` lengths)."""
        for start in range(0, self.num_pairs, batch_size):
            yield pad_tokens(self.tokens[start : start + batch_size])
