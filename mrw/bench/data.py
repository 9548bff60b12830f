"""Aligned (video, sentence) pairs of one split -> padded `Batch`es.

Videos are stored once (TGIF has several sentences per video) and pairs point at them, so a
split's features take the memory of its videos, not of its pairs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from mrw.methods.base import Batch
from mrw.methods.vocab import PAD_ID, Vocabulary


@dataclass
class SplitFeatures:
    """One split as the feature cache stores it.

    features: `[Nv, T, F]` per-frame CNN features of each distinct video, zero-padded;
    lengths: `[Nv]` valid frames; pair_ids / sentences: one entry per pair (dataset row);
    pair_video: `[Np]` index of each pair's video in `video_ids`; skipped: videos left out
    because their media did not decode (id -> reason); weights: name, source and SHA-256 of
    the pretrained backbone weights that computed them, when it names them (`clip:` models).
    """

    video_ids: list[str]
    features: Tensor
    lengths: Tensor
    pair_ids: list[str]
    sentences: list[str]
    pair_video: Tensor
    skipped: dict[str, str] = field(default_factory=dict)
    weights: dict[str, str | None] | None = None

    @property
    def feature_dim(self) -> int:
        """F, the size of one frame feature."""
        return int(self.features.shape[-1])

    def to_dict(self) -> dict:
        """The fields as a plain dict (tensors kept), for `torch.save`."""
        return {
            "video_ids": self.video_ids,
            "features": self.features,
            "lengths": self.lengths,
            "pair_ids": self.pair_ids,
            "sentences": self.sentences,
            "pair_video": self.pair_video,
            "skipped": self.skipped,
            "weights": self.weights,
        }

    @classmethod
    def from_dict(cls, data: dict) -> SplitFeatures:
        """Inverse of `to_dict`; unknown keys are ignored, a missing `skipped` is empty.

        Raises:
            TypeError: If a required field is missing.
        """
        return cls(**{name: data[name] for name in cls.__dataclass_fields__ if name in data})


def standardized(
    splits: Mapping[str, SplitFeatures], reference: str = "train"
) -> dict[str, SplitFeatures]:
    """Every split's frame features z-scored per dimension with `reference`'s statistics.

    Args:
        splits: split name -> features (`[Nv, T, F]`, zero-padded beyond `lengths`).
        reference: the split whose valid frames give the mean and standard deviation.

    Returns:
        New `SplitFeatures` (same dtype); padding stays zero. A dimension constant over the
        reference frames is only centred (its deviation counts as 1), so it cannot blow up
        elsewhere. Every method then sees the same standardised features.
    """
    valid = splits[reference].features[_valid_mask(splits[reference])].float()
    mean = valid.mean(0)
    std = valid.std(0)
    std = torch.where(std > 1e-6, std, torch.ones_like(std))
    out = {}
    for name, split in splits.items():
        scaled = ((split.features.float() - mean) / std) * _valid_mask(split)[..., None]
        out[name] = dataclasses.replace(split, features=scaled.to(split.features.dtype))
    return out


def one_sentence_per_video(split: SplitFeatures) -> SplitFeatures:
    """The split with only the last pair of each video, in split order.

    The reference code (yalesong/pvse, `TGIFDataset`) maps each GIF id to one sentence, the
    last one its TSV lists, and scores the test GIFs 1:1 against those; TGIF rows imported by
    `mrw import tgif` keep the TSV's order, so this is the same choice.

    Args:
        split: any split (`pair_video` maps pairs to videos).

    Returns:
        `SplitFeatures` with every video and one pair per video (videos without a pair are
        impossible in a split; each keeps its features).
    """
    last: dict[int, int] = {}
    for pair, video in enumerate(split.pair_video.tolist()):
        last[video] = pair
    keep = sorted(last.values())
    return dataclasses.replace(
        split,
        pair_ids=[split.pair_ids[i] for i in keep],
        sentences=[split.sentences[i] for i in keep],
        pair_video=split.pair_video[keep],
    )


def _valid_mask(split: SplitFeatures) -> Tensor:
    """`[Nv, T]` bool: True on the frames within each video's length."""
    steps = torch.arange(split.features.size(1))
    return steps[None, :] < split.lengths[:, None]


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
    """A split ready for training and evaluation: features plus encoded sentences.

    The sentences are encoded with `vocab`, or with `tokenize` when a method brings its own
    tokenizer (`Method.text_tokenizer`: CLIP's BPE rows, padding included).
    """

    def __init__(
        self,
        split: SplitFeatures,
        vocab: Vocabulary,
        tokenize: Callable[[Sequence[str]], list[list[int]]] | None = None,
    ) -> None:
        self.split = split
        self.tokens = (
            tokenize(split.sentences)
            if tokenize is not None
            else [vocab.encode(sentence) for sentence in split.sentences]
        )

    @property
    def num_pairs(self) -> int:
        """Number of (video, sentence) pairs."""
        return len(self.tokens)

    @property
    def num_videos(self) -> int:
        """Number of distinct videos."""
        return len(self.split.video_ids)

    def _video(self, video_index: Tensor) -> tuple[Tensor, Tensor]:
        lengths = self.split.lengths[video_index]
        width = max(int(lengths.max()), 1) if len(video_index) else 1
        video = self.split.features[video_index, :width]
        # Decoded frames stay uint8 (a quarter of the bytes to copy and move to the device);
        # cached features (fp16) become fp32.
        return (video if video.dtype == torch.uint8 else video.float()), lengths

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
        """Global batches per epoch of `train_batches` with `drop_last=True` (at least 1)."""
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
