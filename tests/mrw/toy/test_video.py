"""The toy set: polysemous scenes, visible motions, deterministic files, the `mrw toy` command."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from leaderboard.qrels import read_qrels
from mrw.cli import main
from mrw.dataset import iter_rows, load_dataset, read_table, split_files
from mrw.media.frames import decode, probe
from mrw.toy.video import (
    COLOURS,
    PATTERN_COLOURS,
    SCENES,
    TOY_VERSION,
    Moment,
    Scene,
    ToyConfig,
    build_toy,
    describe_with_attributes,
    render,
    sample_scene,
)

BIN = Path(sys.executable).parent

FRAMES_8 = {"num_frames": 8, "fps": 8.0}


def _mask(frame: np.ndarray, rgb: tuple[int, int, int]) -> np.ndarray:
    return np.abs(frame.astype(int) - rgb).sum(axis=-1) < 30


def _frames(scene: Scene, size: int = 64, **sampling) -> np.ndarray:
    """`[T, H, W, 3]` uint8 frames as the harness decodes them."""
    return decode(render(scene, size), **(sampling or FRAMES_8)).frames.permute(0, 2, 3, 1).numpy()


def test_each_kind_of_moment_renders_as_named():
    moments = (
        Moment(
            "object",
            (("colour", "red"), ("shape", "square"), ("side", "on the left")),
            0,
            0.34,
            x=1 / 6,
            y=0.5,
        ),
        Moment("scene", (("scene", "night"),), 0.33, 0.67),
        Moment("pattern", (("tint", "teal"), ("pattern", "horizontal stripes")), 0.66, 1),
    )
    scene = Scene(moments, target=0, delays_ms=(100,) * 18, background=(16, 16, 16))
    frames = _frames(scene, num_frames=18, fps=10.0)
    first, middle, last = frames[2], frames[9], frames[16]
    red = _mask(first, COLOURS["red"])
    assert red.any() and np.nonzero(red)[1].mean() < 64 / 3  # in the left column
    assert _mask(middle, SCENES["night"][0]).mean() > 0.95  # the whole frame turns to night
    teal = _mask(last, PATTERN_COLOURS["teal"])
    assert 0.3 < teal.mean() < 0.7  # stripes: half the frame
    rows, cols = teal.mean(axis=1), teal.mean(axis=0)
    assert rows.std() > 0.4 and cols.std() < 0.05  # horizontal: rows alternate, columns do not
    for frame in (middle, last):
        assert not _mask(frame, COLOURS["red"]).any()


def test_each_moment_has_its_own_part_of_the_harness_frames():
    """At the harness's default 8 frames at 8 fps, every moment shows in some sampled frames
    and not in others, and different moments in different ones."""
    checked = 0
    for index in range(40):
        scene = sample_scene(random.Random(f"mrw-toy:0:train:{index}"))
        frames = _frames(scene)
        shown = []
        for moment in scene.moments:
            if moment.kind == "object":
                rgb, share = COLOURS[moment.get("colour")], 0.0
            elif moment.kind == "scene":
                rgb, share = SCENES[moment.get("scene")][0], 0.9
            else:
                rgb, share = PATTERN_COLOURS[moment.get("tint")], 0.25
            visible = tuple(bool(_mask(f, rgb).mean() > share) for f in frames)
            assert any(visible) and not all(visible), (index, moment)
            shown.append(visible)
        assert len(set(shown)) == len(shown), index
        checked += len(shown)
        segments = sorted((m.start, m.end) for m in scene.moments)
        assert segments[0][0] == 0 and segments[-1][1] == 1
        assert all(a[1] >= b[0] for a, b in pairwise(segments))  # no empty gap
        assert all(b[0] - a[0] > 0.2 for a, b in pairwise(segments))  # distinct parts
    assert checked > 80


def test_moments_are_of_distinct_kinds_and_sentences_name_only_the_target():
    partial, kinds = 0, set()
    for index in range(300):
        rng = random.Random(index)
        scene = sample_scene(rng)
        sentence, named = describe_with_attributes(scene, rng)
        assert 2 <= len(scene.moments) <= 3
        assert len({m.kind for m in scene.moments}) == len(scene.moments)
        target = scene.moments[scene.target]
        kinds.add(target.kind)
        assert named and target.matches(named)
        assert all(value in sentence for value in named.values())
        others = {v for m in scene.moments if m is not target for _, v in m.attributes}
        assert not any(value in sentence for value in others - set(named.values()))
        partial += len(named) < len(target.attributes)
    assert kinds == {"object", "scene", "pattern"}
    assert 0.15 < partial / 300 < 0.5  # objects and patterns are often named partially


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
    assert main(["toy", "--out", str(tmp_path / "bad"), "--num-pairs", "2"]) == 2
    assert "argument --num-pairs: must be between 3 and" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_load_dataset_toy_builds_into_the_cache_once(tmp_path, monkeypatch):
    import mrw.toy.video

    calls = []

    def small_build(out, **kwargs):
        calls.append(out)
        return build_toy(out, num_pairs=9)

    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    monkeypatch.setattr(mrw.toy.video, "build_toy", small_build)
    first = load_dataset("toy", split="validation", cache_dir=str(tmp_path / "hf"))
    again = load_dataset("toy", split="validation", cache_dir=str(tmp_path / "hf"))
    assert calls == [tmp_path / "datasets" / f"toy-v{TOY_VERSION}"]
    assert first[0]["id"] == again[0]["id"] == "toy-validation-00000"


@pytest.mark.parametrize("num_pairs, expected", [(3, (1, 1, 1)), (1500, (1200, 100, 200))])
def test_split_sizes(num_pairs, expected):
    from mrw.toy.video import ToyConfig

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
    assert submitted == 8  # six baselines (VSE0 and VSE++), PVSE K=1 and K=3
    tests = compared["paired_tests"]
    assert len(tests) == 2 * 7  # every row against PVSE K=1 and against PVSE K=3
    assert all(len(t["p_queries"]) == 1 and t["p_queries"][0] is not None for t in tests)
    assert "**Paired tests**" in (out / "compare.md").read_text()
    compare_stage = next(s for s in summary["stages"] if s["stage"] == "compare methods")
    assert "PVSE K=3 - K=1:" in compare_stage["summary"]


@pytest.mark.slow  # two interpreters
def test_toy_writes_qrels_with_a_progress_total_and_mrw_qrels_exports_them(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MRW_CACHE": str(tmp_path / "cache")}
    toy = tmp_path / "toy"
    done = subprocess.run(
        [str(BIN / "mrw"), "toy", "--out", str(toy), "--num-pairs", "30"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sizes = ToyConfig(num_pairs=30).split_sizes()
    for split, n in sizes.items():
        assert f"{n}/{n}" in done.stderr  # the bar knows its total: "24/24", not "24row"
        qrels = read_qrels(toy / "qrels" / split / "t2v.qrels")
        assert len(qrels.query_ids) == n

    truth = tmp_path / "truth"
    done = subprocess.run(
        [str(BIN / "mrw"), "qrels", str(toy), "--out", str(truth), "--split", "test",
         "--split", "validation"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for split in ("test", "validation"):
        for direction in ("t2v", "v2t"):
            exported = (truth / split / f"{direction}.qrels").read_text()
            assert exported == (toy / "qrels" / split / f"{direction}.qrels").read_text()
