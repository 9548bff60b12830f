"""The toy set: polysemous scenes, visible motions, deterministic files, the `mrw toy` command."""

from __future__ import annotations

import random
from itertools import pairwise

import numpy as np
import pytest

from mrw.cli import main
from mrw.dataset import iter_rows, load_dataset, read_table, split_files
from mrw.frames import decode, probe
from mrw.toy import (
    COLOURS,
    MOTIONS,
    SHAPES,
    TOY_VERSION,
    Scene,
    ToyObject,
    build_toy,
    describe,
    render,
    sample_scene,
)


def _mask(frame: np.ndarray, colour: str) -> np.ndarray:
    return np.abs(frame.astype(int) - COLOURS[colour]).sum(axis=-1) < 60


def _track(clip_frames, colour: str) -> list[tuple[float, float, int]]:
    """(centroid x, centroid y, area) of one colour in every frame."""
    out = []
    for frame in clip_frames.permute(0, 2, 3, 1).numpy():
        ys, xs = np.nonzero(_mask(frame, colour))
        out.append((xs.mean() if len(xs) else np.nan, ys.mean() if len(ys) else np.nan, len(xs)))
    return out


def test_rendered_motions_are_what_the_words_say():
    objects = (
        ToyObject("circle", "red", "slides left", 0.5, 0.2, 0.1),
        ToyObject("square", "blue", "grows", 0.25, 0.7, 0.1),
        ToyObject("triangle", "green", "blinks", 0.75, 0.7, 0.1),
        ToyObject("cross", "yellow", "slides down", 0.5, 0.5, 0.08),
    )
    scene = Scene(objects, target=0, delays_ms=(100,) * 16, background=(16, 16, 16))
    clip = decode(render(scene, 64), num_frames=16, fps=8.0)
    red, blue = _track(clip.frames, "red"), _track(clip.frames, "blue")
    green, yellow = _track(clip.frames, "green"), _track(clip.frames, "yellow")
    assert red[0][0] - red[-1][0] > 15 and abs(red[0][1] - red[-1][1]) < 1.5
    assert yellow[-1][1] - yellow[0][1] > 15
    assert blue[-1][2] > 3 * blue[0][2]
    visible = [area > 0 for _, _, area in green]
    assert True in visible and False in visible  # blinking: both on and off frames


def test_each_object_has_its_own_moment_in_the_harness_frames():
    """At the harness's default 8 frames at 8 fps, every object (the described one included)
    shows in some sampled frames and not in others, and different objects in different ones."""
    checked = 0
    for index in range(40):
        rng = random.Random(f"mrw-toy:0:train:{index}")
        scene = sample_scene(rng)
        frames = decode(render(scene, 64), num_frames=8, fps=8.0).frames.permute(0, 2, 3, 1).numpy()
        colours = [o.colour for o in scene.objects]
        shown = {}
        for obj in scene.objects:
            if colours.count(obj.colour) == 1:  # a colour mask identifies the object
                shown[obj] = tuple(bool(_mask(f, obj.colour).any()) for f in frames)
                assert any(shown[obj]) and not all(shown[obj]), (index, obj)
        assert len(set(shown.values())) == len(shown), index
        checked += len(shown)
        segments = sorted((o.start, o.end) for o in scene.objects)
        assert segments[0][0] == 0 and segments[-1][1] == 1
        assert all(a[1] >= b[0] for a, b in pairwise(segments))  # no empty gap
        assert all(b[0] - a[0] > 0.2 for a, b in pairwise(segments))  # distinct parts
    assert checked > 60


def test_scenes_are_polysemous_and_sentences_name_only_the_target():
    partial = 0
    for index in range(300):
        rng = random.Random(index)
        scene = sample_scene(rng)
        sentence = describe(scene, rng)
        assert 2 <= len(scene.objects) <= 3
        assert len({(o.shape, o.colour) for o in scene.objects}) == len(scene.objects)
        assert len({o.motion for o in scene.objects}) == len(scene.objects)
        target = scene.objects[scene.target]
        words = sentence.split()
        named = [w for w in words if w in COLOURS or w in SHAPES]
        assert set(named) <= {target.colour, target.shape}
        motion = next((m for m in MOTIONS if m in sentence), None)
        assert motion in (None, target.motion)
        partial += len(named) + (motion is not None) < 3
    assert 0.4 < partial / 300 < 0.8  # most sentences leave something out


def test_fixture_toy_set_loads_with_frames(toy_dataset_dir):
    assert {s: len(f) for s, f in split_files(toy_dataset_dir).items()} == {
        "train": 1,
        "validation": 1,
        "test": 1,
    }
    sizes = {
        s: read_table(toy_dataset_dir, s, ["id"]).num_rows for s in ("train", "validation", "test")
    }
    assert sizes == {"train": 96, "validation": 8, "test": 16}
    card = (toy_dataset_dir / "README.md").read_text()
    assert "license: mit" in card and '"num_pairs": 120' in card
    test = load_dataset(toy_dataset_dir, split="test", num_frames=8)
    row = test[0]
    assert row["frames"].shape == (8, 3, 64, 64)
    assert row["source"] == "toy" and row["sentence"].split()[0] in {
        "mrw",
        "mfw",
        "my",
        "me",
        "how",
    }


def test_some_clips_have_unequal_frame_delays(toy_dataset_dir):
    rates = []
    for row in iter_rows(toy_dataset_dir, "train"):
        info = probe(row.video_bytes)
        assert 2 <= info.num_frames <= 20 and 0.5 <= info.duration_s <= 3.5
        rates.append(round(info.fps, 3))
    assert len(set(rates)) > 5


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    first = build_toy(tmp_path / "a", num_pairs=24, seed=7)
    second = build_toy(tmp_path / "b", num_pairs=24, seed=7)
    other = build_toy(tmp_path / "c", num_pairs=24, seed=8)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    shards = [name for name in files if name.suffix == ".parquet"]
    qrels = [name for name in files if name.parts[0] == "qrels"]
    assert len(shards) == 3 and len(qrels) == 6  # t2v + v2t qrels of each split
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / shards[-1]).read_bytes() != (other / shards[-1]).read_bytes()


def test_mrw_toy_command(tmp_path, capsys):
    assert main(["toy", "--out", str(tmp_path / "toy"), "--num-pairs", "15", "--size", "32"]) == 0
    assert "train 12, validation 1, test 2" in capsys.readouterr().out
    assert load_dataset(tmp_path / "toy", split="train")[0]["frames"].shape == (8, 3, 32, 32)
    with pytest.raises(SystemExit) as exited:
        main(["toy", "--out", str(tmp_path / "bad"), "--num-pairs", "2"])
    assert exited.value.code == 2
    assert "error: --num-pairs must be at least 3" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_load_dataset_toy_builds_into_the_cache_once(tmp_path, monkeypatch):
    import mrw.toy

    calls = []

    def small_build(out, **kwargs):
        calls.append(out)
        return build_toy(out, num_pairs=9)

    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    monkeypatch.setattr(mrw.toy, "build_toy", small_build)
    first = load_dataset("toy", split="validation", cache_dir=str(tmp_path / "hf"))
    again = load_dataset("toy", split="validation", cache_dir=str(tmp_path / "hf"))
    assert calls == [tmp_path / "datasets" / f"toy-v{TOY_VERSION}"]
    assert first[0]["id"] == again[0]["id"] == "toy-validation-00000"


@pytest.mark.parametrize("num_pairs, expected", [(3, (1, 1, 1)), (1500, (1200, 100, 200))])
def test_split_sizes(num_pairs, expected):
    from mrw.toy import ToyConfig

    assert tuple(ToyConfig(num_pairs).split_sizes().values()) == expected


@pytest.mark.slow
def test_demo_stages_run_end_to_end_on_a_small_toy_set(tmp_path):
    import json

    from mrw.demo import STAGES, DemoContext, run_demo

    out = tmp_path / "demo-out"
    record = run_demo(DemoContext(out, num_pairs=30))
    assert [r["stage"] for r in record] == [s.name for s in STAGES]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_pairs"] == 30 and len(summary["stages"]) == len(STAGES)
    assert json.loads((out / "stats.json").read_text())["total"]["pairs"] == 30
    assert (out / "contact_sheet.png").read_bytes()[:4] == b"\x89PNG"
    assert len((out / "qrels" / "test" / "t2v.qrels").read_text().splitlines()) == 4
    board = json.loads((out / "leaderboard" / "leaderboard.json").read_text())
    compared = json.loads((out / "compare.json").read_text())
    submitted = sum(len(table["submissions"]) for table in board["boards"])
    assert (
        submitted
        == sum(len(row["runs"]) for table in compared["tables"] for row in table["rows"])
        >= 7
    )
