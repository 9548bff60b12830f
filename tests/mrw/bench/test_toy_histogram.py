"""The toy features' colour histograms count with `bincount`: exactly the one-hot tensor
pooled by `adaptive_avg_pool2d` they replace, whatever the frame size (overlapping cells
included)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from mrw.bench.toy_features import ColourEdgeFeatures


def one_hot_pooled(index: torch.Tensor, bins: int, grid: int) -> torch.Tensor:
    """The previous computation: a one-hot tensor 'bins' times the pixels, then pooled."""
    onehot = nn.functional.one_hot(index, bins).permute(0, 3, 1, 2).float()
    return nn.functional.adaptive_avg_pool2d(onehot, grid).flatten(1)


@pytest.mark.parametrize("size", [(96, 96), (64, 64), (65, 97), (7, 5), (3, 3), (100, 37)])
@pytest.mark.parametrize(("bins", "grid"), [(8, 3), (64, 1), (8, 2), (16, 3)])
def test_histogram_equals_one_hot_pooling(size: tuple[int, int], bins: int, grid: int) -> None:
    index = torch.randint(0, bins, (4, *size), generator=torch.Generator().manual_seed(sum(size)))
    index[0] = 0  # one image all in one bin
    expected = one_hot_pooled(index, bins, grid)
    assert torch.equal(ColourEdgeFeatures._histogram(index, bins, grid), expected)


def test_features_of_frames_are_unchanged() -> None:
    """The whole extractor, against the same extractor with the previous histogram."""
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    frames = torch.rand(6, 3, 50, 70, generator=torch.Generator().manual_seed(1))
    frames = (frames - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    model = ColourEdgeFeatures(mean, std)

    class Previous(ColourEdgeFeatures):
        _histogram = staticmethod(one_hot_pooled)

    assert torch.equal(model(frames), Previous(mean, std)(frames))
