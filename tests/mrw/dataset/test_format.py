"""The dataset format: building, plain-HF loading, lazy frames, collate, qrels, URL-only config."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from mrw.dataset import (
    COLUMNS,
    DatasetFormatError,
    DatasetNotFoundError,
    VideoRow,
    build_dataset,
    collate,
    export_qrels,
    iter_rows,
    load_dataset,
    read_table,
    split_files,
)
from mrw.media.frames import FrameDecodeError
from mrw.testing.system_tools import skip_reason


def _rows(make_gif, make_video) -> dict[str, list[VideoRow]]:
    """Train: one GIF per pair; test: TGIF-style, two videos with several sentences each."""
    train = [
        VideoRow.from_media(
            make_gif([(40 * i, 10 * k, 0) for k in range(4)], 100),
            id=f"p{i}",
            video_id=f"g{i}",
            sentence=f"mrw clip number {i}",
            source="reddit:r/reactiongifs",
            post_url=f"https://reddit.example/p{i}",
            media_url=f"https://media.example/g{i}.gif",
            created_utc=1_500_000_000 + i,
        )
        for i in range(5)
    ]
    test = []
    for v, data in enumerate(
        [make_video(12, fps=10), make_gif([(0, 0, 0), (9, 9, 9), (99, 9, 9)], 150)]
    ):
        for s in range(3):
            test.append(
                VideoRow.from_media(
                    data,
                    id=f"t{v}_{s}",
                    video_id=f"tv{v}",
                    sentence=f"sentence {s} about video {v}",
                    source="tgif",
                    media_url=f"https://media.example/tv{v}",
                )
            )
    return {"train": train, "test": test}


@pytest.fixture(scope="module")
def built(tmp_path_factory, make_gif, make_video) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    return build_dataset(_rows(make_gif, make_video), out, configs=("default", "urls"))


@pytest.fixture(scope="module")
def hf_cache(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("hf-cache"))


def test_folder_layout_and_card(built):
    files = sorted(str(p.relative_to(built)) for p in built.rglob("*") if p.is_file())
    assert files == [
        "README.md",
        "data/test-00000-of-00001.parquet",
        "data/train-00000-of-00001.parquet",
        "urls/test-00000-of-00001.parquet",
        "urls/train-00000-of-00001.parquet",
    ]
    import yaml

    card = (built / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert [c["config_name"] for c in header["configs"]] == ["default", "urls"]
    assert header["configs"][0]["default"] is True
    info = header["dataset_info"][0]
    assert [f["name"] for f in info["features"]] == list(COLUMNS)
    assert {f["name"]: f["dtype"] for f in info["features"]}["video"] == "video"
    assert {s["name"]: s["num_examples"] for s in info["splits"]} == {"train": 5, "test": 6}


def test_media_metadata_is_filled_from_the_bytes(built):
    rows = list(iter_rows(built, "train"))
    assert [r.id for r in rows] == [f"p{i}" for i in range(5)]
    first = rows[0]
    assert (first.num_frames, first.width, first.height) == (4, 40, 30)
    assert first.duration_s == pytest.approx(0.4) and first.fps == pytest.approx(10)
    assert first.video_path == "g0.gif" and first.video_bytes[:6] == b"GIF89a"
    import hashlib

    assert first.sha256 == hashlib.sha256(first.video_bytes).hexdigest()
    url_rows = list(iter_rows(built, "train", config="urls"))
    assert all(r.video_bytes is None and r.media_url for r in url_rows)


_PLAIN_LOAD = textwrap.dedent(
    """
    import json, sys
    import datasets
    ds = datasets.load_dataset(sys.argv[1], cache_dir=sys.argv[2])
    out = {
        "mrw_imported": any(m == "mrw" or m.startswith("mrw.") for m in sys.modules),
        "splits": {k: v.num_rows for k, v in ds.items()},
        "columns": ds["train"].column_names,
        "video": type(ds["train"].features["video"]).__name__,
        "urls_video": datasets.load_dataset(sys.argv[1], "urls", split="train",
                                            cache_dir=sys.argv[2]).cast_column(
            "video", datasets.Video(decode=False))[0]["video"],
    }
    try:
        import torchcodec  # noqa: F401  (what datasets' Video() decodes with)
        video = ds["test"][0]["video"]
        out["decoded"] = list(video.get_frames_in_range(0, 2).data.shape)
    except (ImportError, RuntimeError, OSError) as exc:
        out["skip"] = f"Video() decoding unavailable here: {type(exc).__name__}: {exc}"[:300]
    print(json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def plain_load(built: Path, hf_cache: str) -> dict:
    """What a process that imports only `datasets` sees in the built folder."""
    result = subprocess.run(
        [sys.executable, "-c", _PLAIN_LOAD, str(built), hf_cache],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_plain_datasets_loads_the_folder_without_project_code(plain_load):
    out = plain_load
    assert out["mrw_imported"] is False
    assert out["splits"] == {"train": 5, "test": 6}
    assert out["columns"] == list(COLUMNS)
    assert out["video"] == "Video"
    assert out["urls_video"] is None


@pytest.mark.slow
def test_plain_datasets_decodes_the_video_feature(plain_load):
    out = plain_load
    if "skip" in out:  # torchcodec loads FFmpeg's libraries
        pytest.skip(f"{skip_reason('ffmpeg')}; {out['skip'].splitlines()[0]}")
    assert out["decoded"] == [2, 3, 48, 64]


def test_load_dataset_decodes_frames_lazily(built, hf_cache):
    ds = load_dataset(built, num_frames=4, fps=8.0, size=16, cache_dir=hf_cache)
    assert set(ds) == {"train", "test"}
    row = ds["train"][2]
    assert "video" not in row
    assert row["frames"].shape == (4, 3, 16, 16) and row["frames"].dtype == torch.uint8
    # GIF p2 frame k is red 80, green 10k; 0.4 s at 8 fps -> ticks 0..3 show frames 0, 1, 2, 3.
    assert row["frames"][:, 1, 8, 8].tolist() == pytest.approx([0, 10, 20, 30], abs=3)
    assert row["timestamps"].tolist() == pytest.approx([0, 0.125, 0.25, 0.375])
    assert row["sentence"] == "mrw clip number 2" and row["num_frames"] == 4


def test_dataloader_workers_and_collate(built, hf_cache):
    train = load_dataset(built, split="train", num_frames=3, size=8, cache_dir=hf_cache)
    loader = torch.utils.data.DataLoader(train, batch_size=2, num_workers=2, collate_fn=collate)
    batches = list(loader)
    assert [b["id"] for b in batches] == [["p0", "p1"], ["p2", "p3"], ["p4"]]
    assert batches[0]["frames"].shape == (2, 3, 3, 8, 8)
    assert batches[0]["created_utc"].tolist() == [1_500_000_000, 1_500_000_001]
    assert batches[0]["timestamps"].shape == (2, 3)


def test_collate_refuses_frames_of_different_sizes(built, hf_cache):
    test = load_dataset(built, split="test", num_frames=2, cache_dir=hf_cache)  # no size=
    with pytest.raises(DatasetFormatError, match="size="):
        collate([test[0], test[3]])  # 64x48 MP4 vs 40x30 GIF


def test_seeded_random_sampling_is_reproducible_per_row(built, hf_cache):
    a = load_dataset(
        built, split="test", num_frames=2, sampling="random", seed=1, cache_dir=hf_cache
    )
    b = load_dataset(
        built, split="test", num_frames=2, sampling="random", seed=1, cache_dir=hf_cache
    )
    assert torch.equal(a[0]["timestamps"], b[0]["timestamps"])


def test_url_only_rows_say_how_to_rehydrate(built, hf_cache):
    urls = load_dataset(built, split="test", config="urls", cache_dir=hf_cache)
    assert urls.num_rows == 6
    with pytest.raises(FrameDecodeError, match="mrw download"):
        urls[0]


def test_undecodable_media_names_the_row(tmp_path, make_gif):
    rows = [
        VideoRow(
            id="good", video_id="v1", sentence="s", video_bytes=make_gif([(0, 0, 0), (9, 9, 9)])
        ),
        VideoRow(id="bad", video_id="v2", sentence="s", video_bytes=b"GIF89a not really"),
    ]
    ds = load_dataset(
        build_dataset({"train": rows}, tmp_path / "ds"), split="train", cache_dir=str(tmp_path)
    )
    assert ds[0]["frames"].shape[0] == 8
    with pytest.raises(FrameDecodeError, match="^row bad: "):
        ds[1]


def test_export_qrels_from_a_folder_and_from_a_loaded_dataset(built, hf_cache, tmp_path):
    paths = export_qrels(built, "test", tmp_path / "folder")
    t2v = paths["t2v"].read_text().splitlines()
    v2t = paths["v2t"].read_text().splitlines()
    assert t2v[:3] == ["t0_0 0 tv0 1", "t0_1 0 tv0 1", "t0_2 0 tv0 1"] and len(t2v) == 6
    assert v2t[3:] == ["tv1 0 t1_0 1", "tv1 0 t1_1 1", "tv1 0 t1_2 1"] and len(v2t) == 6
    loaded = load_dataset(built, cache_dir=hf_cache)
    again = export_qrels(loaded, "test", tmp_path / "loaded")
    assert again["t2v"].read_text() == paths["t2v"].read_text()
    assert again["v2t"].read_text() == paths["v2t"].read_text()


def test_rebuilding_gives_byte_identical_files(built, tmp_path):
    rebuilt = build_dataset(
        {split: iter_rows(built, split) for split in ("train", "test")},
        tmp_path / "again",
        configs=("default", "urls"),
    )
    for path in built.rglob("*"):
        if path.is_file():
            assert (rebuilt / path.relative_to(built)).read_bytes() == path.read_bytes(), path


def test_shards_split_by_size_and_are_numbered(built, tmp_path):
    out = build_dataset(
        {"train": iter_rows(built, "train")}, tmp_path / "sharded", max_shard_bytes=600
    )
    names = [p.name for p in split_files(out)["train"]]
    assert len(names) > 1
    assert names == [f"train-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))]
    assert read_table(out, "train", ["id"]).column("id").to_pylist() == [f"p{i}" for i in range(5)]


def test_url_only_build_for_importers(tmp_path):
    rows = [
        VideoRow(id="s1", video_id="v1", sentence="a cat", media_url="https://x.example/v1.gif")
    ]
    out = build_dataset({"test": rows}, tmp_path / "urls-only", configs=("urls",))
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "urls"]
    assert "config_name: urls\n  default: true" in (out / "README.md").read_text()
    assert read_table(out, "test", ["id", "media_url"]).to_pylist() == [
        {"id": "s1", "media_url": "https://x.example/v1.gif"}
    ]


@pytest.mark.parametrize(
    "rows, configs, match",
    [
        ([VideoRow(id="a", video_id="v", sentence="s")], ("default",), "no media bytes"),
        (
            [VideoRow(id="a", video_id="v", sentence="s", video_bytes=b"x")],
            ("urls",),
            "no media_url",
        ),
        ([VideoRow(id="a b", video_id="v", sentence="s", media_url="u")], ("urls",), "invalid id"),
        (
            [VideoRow(id="a", video_id="v", sentence="s", media_url="u")] * 2,
            ("urls",),
            "duplicate id",
        ),
        ([], ("zip",), "configs must be"),
    ],
)
def test_bad_rows_are_refused_and_leave_nothing_behind(tmp_path, rows, configs, match):
    with pytest.raises(DatasetFormatError, match=match):
        build_dataset({"train": rows}, tmp_path / "bad", configs=configs)
    assert not (tmp_path / "bad").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_named_datasets_that_are_not_prepared_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    with pytest.raises(DatasetNotFoundError, match="mrw download mrw"):
        load_dataset("mrw")
    with pytest.raises(DatasetNotFoundError, match="mrw import tgif"):
        load_dataset("tgif")
    with pytest.raises(DatasetNotFoundError, match="unknown dataset"):
        load_dataset("not a dataset")
    with pytest.raises(DatasetNotFoundError, match="cannot load 'someorg/absent'.*Hub"):
        load_dataset("someorg/absent", cache_dir=str(tmp_path / "hf"))  # offline in tests
    with pytest.raises(DatasetNotFoundError, match="not a local dataset folder"):
        read_table("someorg/absent", "test")
