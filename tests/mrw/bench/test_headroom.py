"""`mrw-bench headroom`: the mean and max readers on tiny synthetic sets, frame labels that
match the decoder's sampling, and datasets without moment labels (seconds)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mrw.bench.cli import main as bench_main
from mrw.bench.data import SplitFeatures, standardized
from mrw.bench.headroom import Headroom, format_headroom, probe, sampled_frame_times
from mrw.media.frames import decode
from mrw.toy.moments import ClipMoments, MomentLabels, toy_moment_labels
from mrw.toy.video import ToyConfig, render, toy_scenes

KINDS = {"colour": 6, "shape": 6, "scene": 6}  # 18 attribute values, three kinds
FRAMES = 6
DELAYS = (100,) * FRAMES  # 0.6 s at 10 fps: every frame sampled once
SIZES = {"train": 600, "validation": 120, "test": 120}


def _labels(split: str, count: int, rng: random.Random) -> MomentLabels:
    """Every clip shows one value of each kind, one per third of the clip; its sentence names
    one of the three."""
    clips, named = {}, {}
    for i in range(count):
        moments = tuple(frozenset({(k, f"{k}{rng.randrange(n)}")}) for k, n in KINDS.items())
        spans = ((0.0, 1 / 3), (1 / 3, 2 / 3), (2 / 3, 1.01))
        order = rng.sample(range(3), 3)
        clips[f"{split}-v{i}"] = ClipMoments(moments, tuple(spans[j] for j in order), DELAYS)
        named[f"{split}-p{i}"] = dict(rng.choice(moments))
    return MomentLabels(clips, named)


def _features(labels: MomentLabels, split: str, codes: dict, rng: np.random.Generator):
    """Frames `[N, T, F]`: the code of each value visible on the frame, plus noise."""
    times = sampled_frame_times(DELAYS, FRAMES, 10.0)
    videos = list(labels.clips)
    dim = len(next(iter(codes.values())))
    x = np.zeros((len(videos), FRAMES, dim), dtype=np.float32)
    for v, video in enumerate(videos):
        clip = labels.clips[video]
        for t, time_s in enumerate(times):
            for m in clip.visible(time_s):
                for value in clip.moments[m]:
                    x[v, t] += codes[value]
    x += 0.05 * rng.standard_normal(x.shape).astype(np.float32)
    return SplitFeatures(
        videos,
        torch.from_numpy(x),
        torch.full((len(videos),), FRAMES),
        list(labels.named),
        ["s"] * len(videos),
        torch.arange(len(videos)),
    )


def _probe(dim: int | None) -> Headroom:
    """One-hot codes per value (dim None: 18 separate dimensions), or random unit prototypes
    in `dim` < 18 shared dimensions."""
    rng, gen = random.Random(0), np.random.default_rng(0)
    values = [(k, f"{k}{i}") for k, n in KINDS.items() for i in range(n)]
    if dim is None:
        codes = {v: np.eye(len(values), dtype=np.float32)[i] for i, v in enumerate(values)}
    else:
        raw = gen.standard_normal((len(values), dim)).astype(np.float32)
        codes = {v: raw[i] / np.linalg.norm(raw[i]) for i, v in enumerate(values)}
    labels = {s: _labels(s, n, rng) for s, n in SIZES.items()}
    splits = {s: _features(labels[s], s, codes, gen) for s in SIZES}
    return probe(standardized(splits), labels, FRAMES, 10.0, "synthetic")


def test_separate_codes_leave_no_headroom_and_shared_ones_do() -> None:
    separate, shared = _probe(None), _probe(5)
    # each kind in its own dimensions: the mean over frames holds every moment
    assert separate.mean_reader.test_rsum >= 0.9 * separate.ceiling
    assert separate.gap < 10
    # 18 values in 5 shared dimensions: the mean is a confusable superposition
    assert shared.gap >= 10
    assert shared.max_reader.test_rsum > shared.mean_reader.test_rsum
    assert separate.ceiling == shared.ceiling  # the same clips and sentences
    assert 0 < separate.chance < separate.ceiling <= 600
    text = format_headroom(shared)
    assert "mean reader" in text and "max reader" in text and "ceiling" in text


def test_frame_labels_follow_the_decoders_sampling() -> None:
    config = ToyConfig(num_pairs=12, size=32)
    for scene, _, _ in toy_scenes(config, "train", 6):
        clip = decode(render(scene, 32), 8, 8.0)
        starts = sampled_frame_times(scene.delays_ms, 8, 8.0)
        frame_starts = np.cumsum((0, *scene.delays_ms)) / 1000
        for start, tick in zip(starts, clip.timestamps.tolist(), strict=True):
            # the frame shown at each sampled tick is the one that started last before it
            shown = np.searchsorted(frame_starts, tick + 1e-9, side="right") - 1
            assert start == pytest.approx(frame_starts[shown])


def test_toy_labels_name_every_clip_and_sentence() -> None:
    labels = toy_moment_labels("test", ToyConfig(num_pairs=30))
    assert len(labels.clips) == len(labels.named) == ToyConfig(num_pairs=30).split_sizes()["test"]
    for pair, named in labels.named.items():
        clip = labels.clips[pair.replace("toy-", "toyv-")]
        assert any(set(named.items()) <= moment for moment in clip.moments)


def test_a_dataset_without_moment_labels_is_a_one_line_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_main(["headroom", "--dataset", "mrw"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "carries no moment labels" in err
