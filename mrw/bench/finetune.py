"""The fine-tune stage: any method, with the frame CNN unfrozen, trained from decoded frames.

After the usual training on cached features, `FrameMethod` puts the CNN in front of the
method so gradients reach it; the trainer and evaluator are unchanged (a batch's `video`
holds frames `[B, T, 3, S, S]` instead of features; each split's decoded frames are a
memory-mapped file, see `decode_frames`). Simplifications, stated: BatchNorm statistics stay
frozen (the usual choice for small fine-tuning batches), and frames are the same uniformly
sampled ones as for the cached features (no augmentation).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from mrw.bench.backbones import FrameEncoder
from mrw.methods.base import Batch, Method


class FrameMethod(Method):
    """`inner` with a trainable `FrameEncoder` turning frames into the features it expects."""

    name = "frames"  # not registered: built by the runner around a registered method
    config_class = dict

    def __init__(self, inner: Method, encoder: FrameEncoder) -> None:
        super().__init__(inner.config, inner.context)
        self.inner = inner
        self.encoder = encoder

    def train(self, mode: bool = True) -> FrameMethod:
        super().train(mode)
        self.encoder.eval()  # frozen BatchNorm statistics; gradients still flow
        return self

    def features(self, frames: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        """`[B, T, 3, S, S]` frames -> (`[B, T, F]` features, zero beyond each clip's length,
        `[B]` lengths); a grid encoder gives `[B, T * cells, F]` and lengths in cells."""
        b, t = frames.shape[:2]
        valid = torch.arange(t, device=frames.device)[None, :] < lengths[:, None]
        encoded = self.encoder(frames[valid].contiguous(memory_format=torch.channels_last))
        out = encoded.new_zeros(b, t, *encoded.shape[1:])
        out[valid] = encoded
        if out.dim() == 4:  # grid: every cell of every frame is a local feature
            return out.flatten(1, 2), lengths * out.shape[2]
        return out, lengths

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        return self.inner.encode_video(*self.features(video, lengths))

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self.inner.encode_text(tokens, lengths)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        video, lengths = self.features(batch.video, batch.video_lengths)
        return self.inner.loss(dataclasses.replace(batch, video=video, video_lengths=lengths))

    def similarity(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        return self.inner.similarity(video_emb, text_emb)

    def on_epoch_start(self, epoch: int) -> None:
        self.inner.on_epoch_start(epoch)
