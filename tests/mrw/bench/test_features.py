"""Feature extraction and its cache on a tiny generated dataset (real decoding, small CNN)."""

from __future__ import annotations

import pytest
import torch

import mrw
import mrw.catalog
import mrw.dataset
from mrw.bench.backbones import build_backbone
from mrw.bench.features import FeatureError, FeatureSpec, extract_features
from mrw.dataset import VideoRow, build_dataset

COLOURS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 255, 255), (255, 0, 255)]


def tiny_dataset(root, make_gif):
    """Three splits; test has a video with two sentences (TGIF-like) and clips of 2-5 frames."""

    def rows(split, n, extra_sentence=False):
        for v in range(n):
            gif = make_gif([COLOURS[(v + i) % 6] for i in range(2 + v % 4)], 125, (24, 20))
            yield VideoRow.from_media(
                gif, id=f"{split}{v}a", video_id=f"{split}-vid{v}", sentence=f"mrw colour {v}"
            )
            if extra_sentence and v == 1:
                yield VideoRow.from_media(
                    gif, id=f"{split}{v}b", video_id=f"{split}-vid{v}", sentence="another one"
                )

    return build_dataset(
        {
            "train": rows("train", 4),
            "validation": rows("validation", 2),
            "test": rows("test", 3, True),
        },
        root / "tiny",
    )


@pytest.fixture()
def dataset(tmp_path, monkeypatch, make_gif):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return str(tiny_dataset(tmp_path, make_gif))


def spec(dataset: str, split: str = "test", **kw) -> FeatureSpec:
    return FeatureSpec(
        dataset,
        split,
        **{"backbone": "resnet18", "weights": "none", "num_frames": 4, "image_size": 32, **kw},
    )


def test_features_per_distinct_video_and_cached(dataset, monkeypatch) -> None:
    torch.manual_seed(0)
    feats, used = extract_features(spec(dataset), progress=False)
    assert used == spec(dataset)
    assert feats.video_ids == ["test-vid0", "test-vid1", "test-vid2"]
    assert feats.pair_ids == ["test0a", "test1a", "test1b", "test2a"]
    assert feats.pair_video.tolist() == [0, 1, 1, 2]
    assert feats.features.shape == (3, 4, 512) and feats.features.dtype == torch.float16
    assert feats.lengths.tolist() == [4, 4, 4]  # short clips repeat their last frame
    assert feats.features.float().abs().sum() > 0
    assert used.cache_path().is_file() and str(used.cache_path()).startswith(
        str(mrw.catalog.cache_root())
    )

    def no_decoding(*args, **kwargs):
        raise AssertionError("a cached split must not be decoded again")

    monkeypatch.setattr(mrw.dataset, "load_dataset", no_decoding)
    again, _ = extract_features(spec(dataset), progress=False)
    assert torch.equal(again.features, feats.features)
    with pytest.raises(
        AssertionError, match="decoded again"
    ):  # another size is another cache entry
        extract_features(spec(dataset, image_size=48), progress=False)


def test_cached_features_equal_a_direct_forward(dataset) -> None:
    """The batched, channels-last, cached pass computes what the CNN computes on one clip."""
    from mrw.bench.backbones import FrameEncoder

    torch.manual_seed(0)
    feats, _ = extract_features(spec(dataset, split="train"), progress=False)
    torch.manual_seed(0)
    cnn, _ = build_backbone("resnet18", "none")
    rows = mrw.load_dataset(dataset, split="train", num_frames=4, fps=8.0, size=32)
    with torch.inference_mode():
        direct = FrameEncoder(cnn, 32)(rows[1]["frames"])
    torch.testing.assert_close(feats.features[1].float(), direct, atol=2e-2, rtol=1e-2)


def test_unknown_backbone_and_weights_are_clear_errors() -> None:
    with pytest.raises(FeatureError, match="unknown backbone"):
        build_backbone("resnet-9000", "none")
    with pytest.raises(FeatureError, match="unknown weights"):
        build_backbone("resnet18", "laion")


@pytest.mark.slow
def test_finetune_stage_trains_the_cnn_from_frames(dataset, tmp_path) -> None:
    import json

    from mrw.bench.options import RunOptions
    from mrw.bench.runner import run_method
    from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)

    options = RunOptions(
        dataset=dataset,
        backbone="resnet18",
        weights="none",
        image_size=32,
        num_frames=4,
        epochs=1,
        batch_size=4,
        finetune_epochs=1,
        finetune_lr=1e-2,
        runs_dir=str(tmp_path / "runs"),
        progress=False,
    )
    result = run_method("tiny-test-method", {}, options)
    stages = [
        json.loads(line).get("stage")
        for line in (result.run_dir / "log.jsonl").read_text().splitlines()
    ]
    assert stages.count("finetune") == 1
    tuned = torch.load(result.run_dir / "finetune.pt", weights_only=False)["model"]
    fresh, _ = build_backbone("resnet18", "none")
    before = fresh.state_dict()
    # gradients reached the CNN, down to its first convolution
    assert not torch.equal(tuned["encoder.cnn.conv1.weight"], before["conv1.weight"])
    bn = "encoder.cnn.layer4.1.bn2.running_mean"
    assert torch.equal(
        tuned[bn], before["layer4.1.bn2.running_mean"]
    )  # BatchNorm statistics frozen
    assert result.metrics.t2v.queries == 4


def test_histogram_backbone_sees_colour() -> None:
    """The toy set's learning-free backbone: a red frame and a blue frame land in different bins."""
    from mrw.bench.backbones import FrameEncoder

    encoder = FrameEncoder(build_backbone("histogram", "none")[0], 16)
    frames = torch.zeros(2, 3, 16, 16, dtype=torch.uint8)
    frames[0, 0], frames[1, 2] = 255, 255
    out = encoder(frames)
    assert out.shape == (2, 256)
    torch.testing.assert_close(out.view(2, 64, 4).sum(1), torch.ones(2, 4))  # a histogram per cell
    assert out[0].argmax() != out[1].argmax()


def test_random_weight_resnet152_features_fit_in_the_fp16_cache() -> None:
    """The offline fallback (`--weights none`) must not cache infinite features."""
    model, weights = build_backbone("resnet152", "none")
    with torch.inference_mode():
        features = model(torch.randn(2, 3, 64, 64))
    assert weights == "none"
    assert torch.isfinite(features.half()).all()
    assert features.abs().max() < 1e3


def _mapped_file(address: int) -> str | None:
    """The file mapped at `address` in this process (Linux `/proc/self/maps`), if any."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            start, end = (int(x, 16) for x in fields[0].split("-"))
            if start <= address < end:
                return fields[5].strip() if len(fields) > 5 else None
    return None


def test_decoded_frames_are_a_memory_mapped_file_decoded_once(dataset, monkeypatch) -> None:
    import numpy as np

    from mrw.bench import features
    from mrw.bench.features import decode_frames, frames_cache_paths

    first = decode_frames(spec(dataset), progress=False)
    frames_path, lengths_path = frames_cache_paths(spec(dataset))
    on_disk = np.load(frames_path, mmap_mode="r")
    assert (
        on_disk.shape == (3, 4, 3, 32, 32) and on_disk.dtype == np.uint8
    )  # 3 distinct test videos
    assert first.video_ids == ["test-vid0", "test-vid1", "test-vid2"]
    # The split's frames are the file's pages, not a copy in RAM.
    assert _mapped_file(first.features.data_ptr()) == str(frames_path.resolve())
    torch.testing.assert_close(first.features, torch.from_numpy(np.array(on_disk)))
    # Each clip's frames are what mrw.load_dataset decodes; padding beyond its length is zero.
    rows = mrw.load_dataset(dataset, split="test", num_frames=4, fps=8.0, size=32)
    clip = rows[0]["frames"]
    assert int(first.lengths[0]) == len(clip)
    torch.testing.assert_close(first.features[0, : len(clip)], clip)
    assert not first.features[0, len(clip) :].any()
    assert len(first.pair_ids) == 4 and first.pair_video.tolist() == [0, 1, 1, 2]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(features, "_map_videos", no_decoding)
    again = decode_frames(spec(dataset), progress=False)
    assert lengths_path.is_file() and torch.equal(again.features, first.features)
