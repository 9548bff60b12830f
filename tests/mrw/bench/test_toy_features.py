"""The toy set's frame features, their standardisation, and the init-time PIE-Net check.

The check must call the old pipeline's features inert (raw regional colour histograms, the
toy v2 default: frames differ by ~1e-3 per dimension, attention is uniform) and the v3
pipeline's (`colour-edges`, z-scored with training statistics) alive.
"""

from __future__ import annotations

import pytest
import torch

from mrw.bench.backbones import IMAGENET_MEAN, IMAGENET_STD
from mrw.bench.data import PairData, SplitFeatures, standardized
from mrw.bench.features import FeatureSpec, extract_features
from mrw.bench.toy_features import ColourEdgeFeatures
from mrw.methods.base import MethodContext
from mrw.methods.registry import create_method
from mrw.methods.vocab import Vocabulary
from pvse.diagnostics import attention_activity, describe_inert


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _normalised(rgb: torch.Tensor) -> torch.Tensor:
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (rgb - mean) / std


def test_colour_edge_features_show_each_kind_in_its_own_part() -> None:
    frames = torch.full((3, 3, 48, 48), 16 / 255)
    frames[0, :, 18:30, 2:14] = torch.tensor([230, 40, 40]).view(3, 1, 1) / 255  # red, left
    frames[1] = torch.tensor([20, 30, 100]).view(3, 1, 1) / 255  # a dark blue scene
    frames[2, :, ::4] = 160 / 255  # grey horizontal stripes (2 rows on, 2 off)
    frames[2, :, 1::4] = 160 / 255
    out = ColourEdgeFeatures(IMAGENET_MEAN, IMAGENET_STD)(_normalised(frames))
    assert out.shape == (3, ColourEdgeFeatures.output_dim)
    bright = out[:, :72].view(3, 8, 3, 3)  # [frame, colour, row, column]
    red = 0b100
    assert bright[0, red, 1, 0] > 0.3 and bright[0, red, :, 1:].sum() == 0
    assert bright[1:, 1:].sum() == 0  # dark tints and dull stripes are not bright
    levels = out[:, 72:136]
    assert levels[1, (0 * 4 + 0) * 4 + 1] == 1.0  # night: every pixel in the (0, 0, 1) bin
    assert levels[2, (2 * 4 + 2) * 4 + 2] == pytest.approx(0.5)  # the grey stripes: half
    edges = out[:, 136:].view(3, 4, 4)  # [frame, cell, (dx, dy, diagonal, anti-diagonal)]
    assert edges[1].abs().sum() == 0  # a flat tint has no edges
    assert (edges[2, :, 1] > 0.2).all() and (edges[2, :, 0] == 0).all()  # horizontal stripes


def _split(features: torch.Tensor, lengths: list[int]) -> SplitFeatures:
    n = features.size(0)
    return SplitFeatures(
        [f"v{i}" for i in range(n)],
        features.half(),
        torch.tensor(lengths),
        [f"p{i}" for i in range(n)],
        ["mrw x"] * n,
        torch.arange(n),
    )


def test_standardized_uses_training_statistics_and_keeps_padding() -> None:
    gen = torch.Generator().manual_seed(0)
    train = torch.randn(6, 4, 3, generator=gen) * torch.tensor([0.01, 5.0, 0.0]) + 2
    lengths = [4, 3, 2, 4, 1, 4]
    for i, n in enumerate(lengths):
        train[i, n:] = 0
    test = train[:2].clone() + 1
    out = standardized({"train": _split(train, lengths), "test": _split(test, lengths[:2])})
    valid = torch.arange(4)[None, :] < torch.tensor(lengths)[:, None]
    z = out["train"].features.float()[valid]
    torch.testing.assert_close(z[:, :2].mean(0), torch.zeros(2), atol=2e-3, rtol=0)
    torch.testing.assert_close(z[:, :2].std(0), torch.ones(2), atol=2e-3, rtol=0)
    assert z[:, 2].abs().max() < 1e-3  # a constant dimension is centred, not blown up
    assert (out["train"].features[~valid] == 0).all()
    assert out["test"].features.dtype == torch.float16
    assert out["test"].features[0, 0, 1] > out["train"].features[0, 0, 1]  # test moved, not refit


def test_attention_activity_by_hand() -> None:
    mask = torch.tensor([[True, True, False, False], [True, True, True, True]])
    uniform = torch.tensor([[[0.5, 0.5, 0, 0]] * 2, [[0.25] * 4] * 2])
    result = attention_activity(uniform, mask)
    assert result["entropy_ratio"] == pytest.approx(1.0) and result["head_tv"] == 0
    assert result["inert"]
    peaked = torch.tensor([[[1.0, 0, 0, 0], [0, 1.0, 0, 0]], [[1.0, 0, 0, 0], [0, 0, 0.5, 0.5]]])
    result = attention_activity(peaked, mask)
    assert result["entropy"] == pytest.approx(0.25 * torch.log(torch.tensor(2.0)).item())
    assert result["head_tv"] == pytest.approx(1.0) and not result["inert"]


def _init_check(split: SplitFeatures) -> dict:
    vocab = Vocabulary.build(split.sentences)
    torch.manual_seed(0)
    model = create_method(
        "pvse",
        MethodContext(split.feature_dim, len(vocab), split.features.size(0)),
        {"k": 3, "embed_dim": 64, "hidden_dim": 64},
    )
    return model.init_check(PairData(split, vocab).batch(torch.arange(len(split.pair_ids))))


@pytest.mark.slow
def test_init_check_flags_v2_features_inert_and_passes_v3(
    toy_dataset_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    spec = FeatureSpec(str(toy_dataset_dir), "train", "histogram", "none", 8.0, 8, 64)
    v2, _ = extract_features(spec, progress=False)  # v2's pipeline: raw colour histograms
    spec = FeatureSpec(str(toy_dataset_dir), "train", "colour-edges", "none", 8.0, 8, 64)
    v3 = standardized({"train": extract_features(spec, progress=False)[0]})["train"]
    inert = _init_check(v2)["video"]
    alive = _init_check(v3)["video"]
    assert inert["inert"] and inert["entropy_ratio"] > 0.99
    assert describe_inert({"video": inert}).startswith("PIE-Net looks inert at initialisation")
    assert not alive["inert"] and alive["entropy_ratio"] < 0.97 and alive["head_tv"] > 0.1
    assert describe_inert({"video": alive}) is None
