"""Synthetic cached features for harness tests: no decoding, seconds to train.

Each video mixes the vectors of two of `concepts` concepts over its frames; its sentence names
one of them ("mrw <concept word> ..."), the partial association of MRW in miniature. The
split is written straight into the feature cache, so `run_method` finds it there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from torch import Tensor, nn

from mrw.bench.data import SplitFeatures
from mrw.bench.features import save_features
from mrw.bench.options import RunOptions
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.registry import register_method

FEATURE_DIM = 32
NUM_FRAMES = 4
WORDS = [
    "cat",
    "dog",
    "car",
    "tree",
    "ball",
    "fire",
    "rain",
    "moon",
    "fish",
    "bird",
    "shoe",
    "cake",
]
SIZES = {"train": 240, "validation": 60, "test": 60}


def make_split(
    split: str, num_videos: int, seed: int, sentences_per_video: int = 1
) -> SplitFeatures:
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(len(WORDS), FEATURE_DIM, generator=torch.Generator().manual_seed(1234))
    feats = torch.zeros(num_videos, NUM_FRAMES, FEATURE_DIM)
    lengths = torch.randint(2, NUM_FRAMES + 1, (num_videos,), generator=gen)
    pair_ids, sentences, pair_video = [], [], []
    for v in range(num_videos):
        a, b = torch.randperm(len(WORDS), generator=gen)[:2].tolist()
        n = int(lengths[v])
        feats[v, :n] = 0.5 * (centers[a] + centers[b]) + 0.3 * torch.randn(
            n, FEATURE_DIM, generator=gen
        )
        for s in range(sentences_per_video):
            word = WORDS[a] if s % 2 == 0 else WORDS[b]
            pair_ids.append(f"{split}-s{v:04d}-{s}")
            sentences.append(f"mrw a {word} appears!")
            pair_video.append(v)
    return SplitFeatures(
        [f"{split}-v{v:04d}" for v in range(num_videos)],
        feats.half(),
        lengths,
        pair_ids,
        sentences,
        torch.tensor(pair_video),
    )


def synthetic_options(cache: Path, runs: Path, **overrides) -> RunOptions:
    """Options whose feature cache entries exist; `cache` must be `$MRW_CACHE`."""
    dataset = str(cache / "synthetic-set")  # a path-like name that never exists on disk
    options = RunOptions(
        dataset=dataset,
        backbone="synthetic",
        weights="none",
        image_size=8,
        num_frames=NUM_FRAMES,
        batch_size=32,
        epochs=3,
        runs_dir=str(runs),
        progress=False,
        eval_batch_size=64,
    )
    options = dataclasses.replace(options, **overrides).resolved()
    for i, (split, size) in enumerate(SIZES.items()):
        spec = options.feature_spec(split)
        if not spec.cache_path(cache / "").is_file():
            save_features(spec.cache_path(cache), make_split(split, size, seed=100 + i), spec)
    return options


def synthetic_flags(options: RunOptions) -> list[str]:
    """The `mrw-bench` flags that select `options`' synthetic features (`synthetic_options`):
    dataset, backbone, weights, image size, frames per video and batch size, as a command
    line gives them."""
    return [
        "--dataset",
        options.dataset,
        "--backbone",
        "synthetic",
        "--weights",
        "none",
        "--image-size",
        str(options.image_size),
        "--num-frames",
        str(options.num_frames),
        "--batch-size",
        str(options.batch_size),
    ]


@register_method
class TinyMethod(Method):
    """Mean-pooled video and bag-of-words text, linear maps to D, VSE++ hardest-negative hinge."""

    name = "tiny-test-method"

    @dataclasses.dataclass
    class Config:
        embed_dim: int = 16
        margin: float = 0.2

    config_class = Config

    def __init__(self, config: Config, context: MethodContext) -> None:
        super().__init__(config, context)
        self.video = nn.Linear(context.feature_dim, config.embed_dim)
        self.words = nn.EmbeddingBag(
            context.vocab_size, config.embed_dim, mode="mean", padding_idx=0
        )

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        mask = (torch.arange(video.shape[1], device=video.device)[None] < lengths[:, None]).float()
        pooled = (video * mask[..., None]).sum(1) / lengths.clamp(min=1)[:, None]
        return nn.functional.normalize(self.video(pooled), dim=-1)[:, None]

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return nn.functional.normalize(self.words(tokens), dim=-1)[:, None]

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        v = self.encode_video(batch.video, batch.video_lengths)[:, 0]
        t = self.encode_text(batch.tokens, batch.token_lengths)[:, 0]
        scores = v @ t.T
        positive = scores.diag()
        off = torch.eye(len(scores), dtype=torch.bool, device=scores.device)
        cost_t = (self.config.margin + scores - positive[:, None]).clamp(min=0).masked_fill(off, 0)
        cost_v = (self.config.margin + scores - positive[None, :]).clamp(min=0).masked_fill(off, 0)
        hinge = cost_t.amax(1).sum() + cost_v.amax(0).sum()
        return {"total": hinge, "hinge": hinge}
