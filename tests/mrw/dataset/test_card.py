"""Dataset cards made with `huggingface_hub.DatasetCard` and checked offline (issue 13.8), and
what plain `datasets` needs to decode `video` (issue 13.7)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from huggingface_hub import DatasetCard

from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.card import PVSE_CITATION, size_category, validate_card
from mrw.sources.releases import TGIF_CITATION


def test_toy_card_has_hub_metadata_and_validates(toy_dataset_dir: Path) -> None:
    card = DatasetCard.load(toy_dataset_dir / "README.md")
    data = card.data
    assert data.pretty_name == "MRW toy set" and data.license == "mit"
    assert data.language == ["en"] and data.task_categories == ["text-retrieval"]
    assert data.size_categories == ["n<1K"]  # the test session's 120 pairs
    assert "@inproceedings{song2019polysemous" in card.text
    assert validate_card(str(card)) == []


def test_built_card_defaults_and_citation_override(tmp_path: Path) -> None:
    rows = [VideoRow(id=f"p{i}", video_id=f"v{i}", sentence=f"thing {i}", media_url="https://x/")
            for i in range(3)]  # fmt: skip
    built = build_dataset({"test": rows}, tmp_path / "a", configs=("urls",), pretty_name="MRW")
    text = (built / "README.md").read_text()
    card = DatasetCard(text)
    assert card.data.license == "unknown" and card.data.size_categories == ["n<1K"]
    assert PVSE_CITATION.splitlines()[0] in text and "no license" in text
    assert validate_card(text) == []
    tgif = build_dataset({"test": rows}, tmp_path / "b", configs=("urls",), pretty_name="TGIF",
                         card_metadata={"citation": TGIF_CITATION})  # fmt: skip
    assert "@inproceedings{li2016tgif" in (tgif / "README.md").read_text()


def test_validation_finds_what_the_hub_would_refuse(toy_dataset_dir: Path) -> None:
    text = (toy_dataset_dir / "README.md").read_text()
    assert validate_card(text.replace("license: mit\n", "")) == ["missing `license`"]
    assert validate_card(text.replace("n<1K", "some")) == ["unknown size category 'some'"]
    assert validate_card(text.replace("- en\n", "- english\n", 1)) == ["unknown language 'english'"]
    assert validate_card(text.replace("- text-retrieval\n", "- retrieval\n", 1)) == [
        "unknown task category 'retrieval'"
    ]
    assert validate_card(text.replace("```bibtex", "```")) == ["no citation (a ```bibtex block)"]
    assert validate_card("---\nlicense: [\n---\n")[0].startswith("unreadable card metadata")
    no_name = text.replace("- config_name: default\n  default: true", "- default: true", 1)
    assert validate_card(no_name)[0].startswith("invalid configs or dataset_info: Each config")


def test_size_categories_follow_the_hub_buckets() -> None:
    assert [size_category(n) for n in (0, 999, 1000, 50_107, 100_000, 10**7)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "10M<n<100M"
    ]  # fmt: skip


@pytest.mark.slow  # an interpreter
def test_decoding_needs_torchcodec_for_plain_datasets_not_for_mrw(toy_dataset_dir: Path) -> None:
    card = (toy_dataset_dir / "README.md").read_text()
    assert "torchcodec" in card and "FFmpeg 4, 5, 6 or 7" in card
    script = f"""
import sys
sys.modules["torchcodec"] = None  # as on a machine without torchcodec / system FFmpeg
import datasets, mrw
plain = datasets.load_dataset({str(toy_dataset_dir)!r}, split="test")
try:
    plain[0]
    print("plain: decoded")
except ImportError:
    print("plain: needs torchcodec")
undecoded = plain.cast_column("video", datasets.Video(decode=False))[0]["video"]
print("undecoded:", len(undecoded["bytes"]) > 0)
decoded = mrw.load_dataset({str(toy_dataset_dir)!r}, split="test", num_frames=4)[0]
print("mrw:", tuple(decoded["frames"].shape))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], check=False, capture_output=True, text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "plain: needs torchcodec", "undecoded: True", "mrw: (4, 3, 64, 64)"
    ]  # fmt: skip


def test_publish_refuses_an_invalid_card(tmp_path: Path) -> None:
    from mrw.sources import SourceError
    from mrw.sources.hub import publish

    rows = [VideoRow(id="p0", video_id="v0", sentence="a thing", media_url="https://x/")]
    built = build_dataset({"test": rows}, tmp_path / "ds", configs=("urls",))
    readme = built / "README.md"
    readme.write_text(readme.read_text().replace("license: unknown\n", ""))
    with pytest.raises(SourceError, match="not a valid dataset card: missing `license`"):
        publish(built, "org/name", dry_run=True)
