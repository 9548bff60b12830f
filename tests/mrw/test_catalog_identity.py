"""A folder the toolkit built as a catalogued dataset (`mrw toy --out DIR`) carries that identity
in its card, so `--dataset DIR` gets the same defaults as `--dataset toy`; any other folder
gets the generic ones."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mrw.bench.options import RunOptions
from mrw.bench.runfiles import default_depth
from mrw.catalog import CARD_IDENTITY, DEFAULTS, card_header, dataset_record, training_defaults
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.card import validate_card
from mrw.toy.image import build_toy_image
from mrw.toy.video import build_toy


def _defaults(dataset: str) -> dict:
    """The resolved options that come from the dataset (everything but its name)."""
    resolved = dataclasses.asdict(RunOptions(dataset=dataset).resolved())
    return {k: v for k, v in resolved.items() if k != "dataset"}


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("toy", lambda out: build_toy(out, num_pairs=12)),
        ("toy-image", lambda out: build_toy_image(out, num_images=6)),
    ],
)
def test_a_built_folder_gets_its_datasets_defaults(name, build, tmp_path: Path) -> None:
    folder = build(tmp_path / "built")
    assert dataset_record(folder).name == name
    assert training_defaults(str(folder)) == training_defaults(name) != DEFAULTS
    assert _defaults(str(folder)) == _defaults(name)
    assert default_depth(str(folder)) == default_depth(name)
    card = (folder / "README.md").read_text(encoding="utf-8")
    assert card_header(folder)[CARD_IDENTITY]["name"] == name and validate_card(card) == []


def test_another_folder_gets_the_generic_defaults(make_gif, tmp_path: Path) -> None:
    gif = make_gif([(255, 0, 0), (0, 0, 255)])
    rows = [
        VideoRow.from_media(gif, id=f"p{i}", video_id=f"v{i}", sentence="a cat") for i in range(2)
    ]
    folder = build_dataset({"train": rows}, tmp_path / "plain")
    assert CARD_IDENTITY not in card_header(folder)
    assert dataset_record(folder) is None and training_defaults(str(folder)) == DEFAULTS
    assert dataset_record(tmp_path / "no-such-folder") is None
