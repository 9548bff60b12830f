"""The dataset catalogue: typed records, and a new dataset added with one record alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrw.catalog import (
    DEFAULTS,
    DatasetRecord,
    TrainingDefaults,
    UnknownDatasetError,
    get_dataset,
    list_datasets,
    register_dataset,
    training_defaults,
    unregister_dataset,
)

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (40, 60, 230)}


def build_tiny_colours(out_dir: Path) -> Path:
    """A 36-pair dataset: each clip flashes two colours, its sentence names one of them."""
    import io

    from PIL import Image

    from mrw.dataset import VideoRow, build_dataset

    names = list(COLOURS)
    splits: dict[str, list[VideoRow]] = {"train": [], "validation": [], "test": []}
    for i in range(36):
        split = "train" if i < 24 else "validation" if i < 30 else "test"
        first, second = names[i % 3], names[(i // 3) % 3]
        frames = [Image.new("RGB", (32, 32), COLOURS[c]) for c in (first, first, second, second)]
        for step, frame in enumerate(frames):  # a moving dot: Pillow merges identical frames
            frame.putpixel((step, 0), (255, 255, 255))
        buffer = io.BytesIO()
        frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=100)
        sentence = f"mrw it turns {second}" if i % 2 else f"mrw something {first}"
        row = VideoRow.from_media(
            buffer.getvalue(), id=f"tiny{i:02d}", video_id=f"clip{i:02d}", sentence=sentence
        )
        splits[split].append(row)
    return build_dataset(splits, out_dir, pretty_name="tiny colours")


def test_builtin_records_hold_each_datasets_facts() -> None:
    assert {"mrw", "tgif", "toy"} <= set(list_datasets())
    assert get_dataset("mrw").paper.k == 5 and get_dataset("mrw").paper.training.num_frames == 4
    assert get_dataset("tgif").paper.k == 3 and get_dataset("tgif").sentences_per_video > 1
    toy = get_dataset("toy")
    assert toy.builder and toy.folder.name == f"toy-v{toy.version}"
    assert training_defaults("toy").backbone == "colour-edges"
    assert training_defaults("toy").standardize_features and not DEFAULTS.standardize_features
    assert training_defaults("some/folder") == TrainingDefaults()
    with pytest.raises(UnknownDatasetError, match="known: .*mrw"):
        get_dataset("nope")


def test_records_are_validated() -> None:
    with pytest.raises(TypeError):
        DatasetRecord(name="x", version="1", description="", how_to_get="y", unknown=1)
    with pytest.raises(ValueError, match="builder or a how_to_get"):
        DatasetRecord(name="x", version="1", description="")
    with pytest.raises(ValueError, match="module:function"):
        DatasetRecord(name="x", version="1", description="", builder="no_colon")
    with pytest.raises(ValueError, match="epochs"):
        TrainingDefaults(epochs=0)
    with pytest.raises(ValueError, match="registered twice"):
        register_dataset(DatasetRecord(name="mrw", version="9", description="", how_to_get="x"))


@pytest.mark.slow
def test_a_new_dataset_is_one_record(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mrw.bench.cli import main

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    register_dataset(
        DatasetRecord(
            name="tiny-colours",
            version="1",
            description="three colours, two per clip",
            builder=f"{__name__}:build_tiny_colours",
            training=TrainingDefaults(
                backbone="histogram", weights="none", image_size=32, num_frames=4, epochs=2
            ),
        )
    )
    try:
        runs = tmp_path / "runs"
        code = main(["run", "vsepp", "--dataset", "tiny-colours", "--runs-dir", str(runs)])
    finally:
        unregister_dataset("tiny-colours")
    assert code == 0
    (record,) = runs.glob("tiny-colours/vsepp/*/metrics.json")
    metrics = json.loads(record.read_text())
    assert metrics["dataset"] == "tiny-colours"
    assert metrics["config"]["options"]["backbone"] == "histogram"
    assert metrics["config"]["options"]["num_frames"] == 4
    assert (tmp_path / "cache" / "datasets" / "tiny-colours-v1" / "README.md").is_file()
