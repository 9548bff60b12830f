"""`mrw.load_dataset` on a local folder reads the shards in place: no second copy on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mrw.dataset import VideoRow, build_dataset, collate, load_dataset
from mrw.dataset.inplace import MediaLocatorError, read_media


def _disk_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0


@pytest.fixture(scope="module")
def many_shards(tmp_path_factory, make_gif) -> Path:
    """150 rows over several shards and row groups; row i's GIF is grey level i."""
    rows = [
        VideoRow(
            id=f"p{i:03d}",
            video_id=f"v{i:03d}",
            sentence=f"clip {i}",
            video_bytes=make_gif([(i, i, i), (i, 255 - i, i)], size=(8, 8)),
        )
        for i in range(150)
    ]
    out = tmp_path_factory.mktemp("inplace") / "ds"
    return build_dataset({"train": rows[:100], "test": rows[100:]}, out, max_shard_bytes=20_000)


def test_loading_copies_nothing_and_reads_every_row_from_its_shard(many_shards, tmp_path):
    assert len(list((many_shards / "data").glob("train-*.parquet"))) > 1
    before = _disk_bytes(many_shards)
    hf_cache = tmp_path / "hf"
    ds = load_dataset(many_shards, num_frames=2, size=8, cache_dir=str(hf_cache))
    assert set(ds) == {"train", "test"} and ds["train"].num_rows == 100
    for split, offset in (("train", 0), ("test", 100)):
        n = ds[split].num_rows
        for index in sorted({0, 7, 63, 64, 65, n - 1} & set(range(n)), reverse=True):
            row = ds[split][index]
            level = offset + index
            assert row["id"] == f"p{level:03d}"
            assert abs(int(row["frames"][0, 0, 4, 4]) - level) <= 2
    assert _disk_bytes(hf_cache) == 0
    assert _disk_bytes(many_shards) == before


def test_workers_and_collate_on_a_folder_loaded_in_place(many_shards):
    train = load_dataset(many_shards, split="train", num_frames=2, size=8)
    loader = torch.utils.data.DataLoader(train, batch_size=32, num_workers=2, collate_fn=collate)
    ids = [i for batch in loader for i in batch["id"]]
    assert ids == [f"p{i:03d}" for i in range(100)]
    plain = train.select_columns(["id", "video_id"]).with_format(None)
    assert plain["video_id"][:2] == ["v000", "v001"]


def test_media_locators_stay_inside_the_dataset(many_shards):
    shard = min((many_shards / "data").glob("test-*.parquet")).name
    assert read_media(many_shards, f"data/{shard}#0")["bytes"][:6] == b"GIF89a"
    for bad in (f"data/{shard}#999", f"../{many_shards.name}/data/{shard}#0x", "/etc/passwd#0"):
        with pytest.raises(MediaLocatorError):
            read_media(many_shards, bad)
