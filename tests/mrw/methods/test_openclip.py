"""The CLIP weights loader on a tiny open_clip checkpoint written in the Hub cache layout:
the same code path as a real tag (open_clip's `download_pretrained` -> the Hub cache ->
`load_checkpoint`), strict keys, checksums, and one-line errors when weights are missing."""

from __future__ import annotations

import hashlib

import pytest
import torch

pytest.importorskip("open_clip")

from mrw.methods.openclip import ClipFrames, WeightsError, frame_mean, load_clip, tokenizer
from mrw.testing.clip import (
    TINY_MODEL,
    register_tiny_model,
    tiny_state_dict,
    write_hub_checkpoint,
)


@pytest.fixture()
def hub(tmp_path, monkeypatch):
    """An empty Hub cache in tmp_path, with the tiny model's config registered."""
    import huggingface_hub.constants

    register_tiny_model(tmp_path / "configs")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return tmp_path / "hub"


def test_hub_checkpoint_loads_exactly_with_its_checksum(hub) -> None:
    saved = tiny_state_dict(seed=1)
    path = write_hub_checkpoint(hub, "mrw-test/tiny-clip", saved)
    model, weights = load_clip(TINY_MODEL, "hf-hub:mrw-test/tiny-clip")
    loaded = model.state_dict()
    assert set(loaded) == set(saved)
    assert all(torch.equal(loaded[k], saved[k]) for k in saved)
    assert not torch.equal(saved["visual.proj"], tiny_state_dict(seed=2)["visual.proj"])
    assert weights.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert weights.to_json()["name"] == f"{TINY_MODEL}/hf-hub:mrw-test/tiny-clip"
    assert weights.source == "mrw-test/tiny-clip/" and not model.training


def test_missing_and_unexpected_keys_are_refused_by_name(hub) -> None:
    corrupted = tiny_state_dict(seed=1)
    corrupted["visual.projection"] = corrupted.pop("visual.proj")
    write_hub_checkpoint(hub, "mrw-test/corrupted", corrupted)
    with pytest.raises(WeightsError) as info:
        load_clip(TINY_MODEL, "hf-hub:mrw-test/corrupted")
    message = str(info.value)
    assert "missing keys visual.proj;" in message and "unexpected keys visual.projection" in message
    assert "\n" not in message


def test_weights_not_cached_offline_are_one_line_naming_them(hub) -> None:
    with pytest.raises(WeightsError) as info:
        load_clip("ViT-B-32", "laion2b_s34b_b79k")
    message = str(info.value)
    assert "ViT-B-32/laion2b_s34b_b79k" in message and "laion/CLIP-ViT-B-32" in message
    assert "offline" in message and "network access" in message and "\n" not in message


def test_unknown_tag_lists_the_models_tags(hub) -> None:
    with pytest.raises(WeightsError, match="tags of ViT-B-32: openai, "):
        load_clip("ViT-B-32", "no-such-tag")
    with pytest.raises(WeightsError, match="unknown CLIP model"):
        load_clip("no-such-model", "none")
    with pytest.raises(WeightsError, match="architecture's name and pretrained=hf-hub:ORG/REPO"):
        load_clip("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K", "none")


def test_pretrained_none_is_a_fixed_random_model(hub) -> None:
    first, weights = load_clip(TINY_MODEL, "none")
    second, _ = load_clip(TINY_MODEL, "none")
    assert weights.sha256 is None and weights.source is None
    assert torch.equal(first.state_dict()["visual.proj"], second.state_dict()["visual.proj"])


def test_tokenizer_rows_are_open_clips(hub) -> None:
    import open_clip

    rows = tokenizer(TINY_MODEL)(["a red square", "two blue circles spin"])
    assert (
        rows
        == open_clip.get_tokenizer(TINY_MODEL)(["a red square", "two blue circles spin"]).tolist()
    )
    assert len(rows[0]) == 77 and rows[0][0] == 49406 and 49407 in rows[0]


def test_frame_mean_ignores_padding_and_frames_are_normalised(hub) -> None:
    per_frame = torch.tensor(
        [[[1.0, 3.0], [3.0, 5.0], [0.0, 0.0]], [[2.0, 2.0], [4.0, 0.0], [6.0, 1.0]]]
    )
    mean = frame_mean(per_frame, torch.tensor([2, 3]))
    assert torch.allclose(mean, torch.tensor([[2.0, 4.0], [4.0, 1.0]]))
    model, _ = load_clip(TINY_MODEL, "none")
    prepare = ClipFrames(model)
    out = prepare(torch.ones(2, 3, 64, 64))  # resized to the model's 32 px
    from open_clip import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD  # the tiny config's defaults

    expected = (1 - torch.tensor(OPENAI_DATASET_MEAN)) / torch.tensor(OPENAI_DATASET_STD)
    assert out.shape == (2, 3, 32, 32)
    assert torch.allclose(out[0, :, 5, 5], expected, atol=1e-5)
