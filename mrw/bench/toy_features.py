"""The toy set's learning-free frame features (backbone `colour-edges`).

Each kind of toy moment (`mrw.toy.video`) shows in its own part of the vector, so attention over
frames has something to pick apart and a linear map can read every attribute a toy sentence
names:

- `[0, 72)`: where each bright colour is — per cell of a 3x3 grid, the share of pixels of each
  of the 8 colours a channel threshold at 3/4 gives (the objects: colour, column, size);
- `[72, 136)`: which colours fill the frame — a 4-level-per-channel joint RGB histogram of the
  whole frame (the scene's dark tint; a pattern's dull tint over half of it);
- `[136, 152)`: which way edges run — per cell of a 2x2 grid, the mean absolute luminance
  difference to the next pixel horizontally, vertically and along both diagonals (patterns).

The raw parts differ in scale by orders of magnitude and vary little from frame to frame, so
the harness z-scores cached features with training statistics before any method sees them
(`RunOptions.standardize_features`, on for the toy set).

Toy v4 (the default toy set since version 4) then mixes them (`mixed`): a fixed random
projection of the z-scored 152-d vector to `TrainingDefaults.feature_mix` = 16 dimensions,
fewer than the 28 attribute values, squashed by tanh. Every moment value then lives in one
shared 16-d space where values overlap, so the mean over frames is a confusable
superposition of the moments (as with real CNN features) instead of a concatenation of
them; toy v3 (no mix) stays available as the negative control. How the parameters were
chosen (with `mrw-bench headroom` only): docs/dataset.md.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

if TYPE_CHECKING:
    from mrw.bench.data import SplitFeatures

# (dx, dy) steps of the four edge orientations: horizontal, vertical, both diagonals.
EDGE_STEPS = ((1, 0), (0, 1), (1, 1), (1, -1))
# Toy v4's mix: tanh(MIX_GAIN * z @ W), W ~ N(0, 1/F_in) drawn from torch seed MIX_SEED.
MIX_GAIN = 2.0
MIX_SEED = 0


class ColourEdgeFeatures(nn.Module):
    """Normalised frames `[N, 3, H, W]` -> `[N, 152]` float32 features (see module).

    `mean` and `std` are the per-channel normalisation the frames arrive with (ImageNet's,
    as for every backbone); they are undone first.
    """

    output_dim = 9 * 8 + 64 + 4 * 4

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1), persistent=False)

    @staticmethod
    def _histogram(index: Tensor, bins: int, grid: int) -> Tensor:
        """`[N, H, W]` bin indices -> `[N, bins * grid * grid]` share of each bin per cell.

        Exactly `adaptive_avg_pool2d(one_hot(index, bins).permute(0, 3, 1, 2).float(), grid)
        .flatten(1)` for the 8 and 64 bins used here (same cells, which may overlap, each count
        divided by the cell's area as PyTorch's CPU kernel does for channels in multiples of
        8), by counting with `bincount` instead of materialising a one-hot tensor `bins`
        times the pixels.
        """
        n, h, w = index.shape
        per_image = index + torch.arange(n, device=index.device).view(n, 1, 1) * bins
        cells = []
        for row in range(grid):
            top, bottom = row * h // grid, -(-(row + 1) * h // grid)  # adaptive pooling's cells
            for col in range(grid):
                left, right = col * w // grid, -(-(col + 1) * w // grid)
                counts = torch.bincount(
                    per_image[:, top:bottom, left:right].flatten(), minlength=n * bins
                )
                cells.append(counts.view(n, bins).float() / ((bottom - top) * (right - left)))
        return torch.stack(cells, 2).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        """`[N, 3, H, W]` normalised frames -> `[N, 152]` float32 features (see module)."""
        rgb = (x * self.std + self.mean).clamp(0, 1)
        bright = (rgb > 0.75).long()
        bright_index = (bright[:, 0] * 2 + bright[:, 1]) * 2 + bright[:, 2]
        levels = (rgb * 4).long().clamp_(0, 3)
        level_index = (levels[:, 0] * 4 + levels[:, 1]) * 4 + levels[:, 2]
        luminance = rgb.mean(1, keepdim=True)
        edges = []
        for dx, dy in EDGE_STEPS:
            shifted = torch.roll(luminance, shifts=(-dy, -dx), dims=(2, 3))
            diff = (shifted - luminance).abs()[..., 1:-1, 1:-1]  # drop the wrapped border
            edges.append(nn.functional.adaptive_avg_pool2d(diff, 2).flatten(1))
        return torch.cat(
            [
                self._histogram(bright_index, 8, 3),
                self._histogram(level_index, 64, 1),
                torch.stack(edges, 2).flatten(1),
            ],
            1,
        )


def mix_matrix(in_dim: int, out_dim: int) -> Tensor:
    """The fixed `[in_dim, out_dim]` float32 projection of `mixed` (N(0, 1/in_dim) entries
    from a generator seeded with `MIX_SEED`: the same matrix on every machine)."""
    generator = torch.Generator().manual_seed(MIX_SEED)
    return torch.randn(in_dim, out_dim, generator=generator) / in_dim**0.5


def mixed(splits: Mapping[str, SplitFeatures], dim: int) -> dict[str, SplitFeatures]:
    """Every split's z-scored frame features `[Nv, T, F]` -> `[Nv, T, dim]` float32
    `tanh(MIX_GAIN * x @ mix_matrix(F, dim))`, padding frames kept at zero (toy v4).

    The caller z-scores the result again with training statistics (`prepare_inputs`).
    """
    out = {}
    for name, split in splits.items():
        weights = mix_matrix(split.feature_dim, dim)
        valid = torch.arange(split.features.size(1))[None, :] < split.lengths[:, None]
        features = torch.tanh(MIX_GAIN * (split.features.float() @ weights)) * valid[..., None]
        out[name] = dataclasses.replace(split, features=features)
    return out
