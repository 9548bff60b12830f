"""Issue 12, case 5: media whose header is fine but whose frames do not decode.

Every path that admits media into a dataset decodes it once and records the reason; the
feature extractor skips a bad row that slipped in (counted), or aborts with `strict`.
"""

from __future__ import annotations

import json

import pytest

from mrw.bench.features import FeatureSpec, extract_features
from mrw.dataset import VideoRow, build_dataset
from mrw.media.frames import FrameDecodeError, probe
from mrw.media.mediatypes import decode_error
from mrw.testing.gifs import GifWriter, solid_palette


def undecodable_gif() -> bytes:
    """Valid blocks, but the first image's LZW minimum code size (14) is out of range (at
    most 11 in a GIF), so its pixels do not decode."""
    writer = GifWriter(24, 20, palette=solid_palette(4)).image(0).image(1).image(0)
    image = bytearray(writer.blocks[1])  # blocks[0] is its graphic control block
    image[10] = 14  # after the 10-byte descriptor (no local colour table)
    writer.blocks[1] = bytes(image)
    return writer.bytes()


def test_probe_alone_accepts_it_admission_refuses_it_with_the_reason(tmp_path):
    data = undecodable_gif()
    assert probe(data).num_frames == 3
    with pytest.raises(FrameDecodeError, match="corrupt"):
        VideoRow.from_media(data, id="a", video_id="a", sentence="mrw it breaks")
    path = tmp_path / "bad.gif"
    path.write_bytes(data)
    assert "corrupt" in decode_error(path)


def _dataset_with_a_bad_row(root, make_gif):
    good = [
        VideoRow.from_media(
            make_gif([(200, 0, 0), (0, 200, 0), (0, 0, 200)], 125, (24, 20)),
            id=f"p{k}",
            video_id=f"v{k}",
            sentence=f"mrw good clip {k}",
        )
        for k in range(3)
    ]
    bad = VideoRow(  # slipped in: built without the admission check
        id="p-bad", video_id="v-bad", sentence="mrw broken", video_bytes=undecodable_gif()
    )
    bad = VideoRow(**{**bad.__dict__, "video_path": "v-bad.gif"})
    return str(build_dataset({"test": [good[0], bad, *good[1:]]}, root / "ds"))


def test_feature_extraction_skips_a_bad_row_and_counts_it(tmp_path, monkeypatch, make_gif):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    dataset = _dataset_with_a_bad_row(tmp_path, make_gif)
    spec = FeatureSpec(dataset, "test", "histogram", "none", num_frames=4, image_size=32)
    with pytest.raises(FrameDecodeError, match="row p-bad: .*corrupt"):
        extract_features(spec, progress=False, strict=True)
    feats, _ = extract_features(spec, progress=False)
    assert feats.video_ids == ["v0", "v1", "v2"]
    assert feats.pair_ids == ["p0", "p1", "p2"]
    assert list(feats.skipped) == ["v-bad"] and "corrupt" in feats.skipped["v-bad"]
    assert (feats.lengths > 0).all()
    cached, _ = extract_features(spec, progress=False)  # the cache keeps the skip record
    assert cached.skipped == feats.skipped


def test_case10_mrw_v1_items_without_mp4_url_import_from_local_media(tmp_path):
    from mrw.cli import main
    from mrw.testing.reposts import gif_bytes, scene

    items = [
        {"id": f"m{i}", "sentence": f"MRW my friend does thing {i}", "images": {"mp4_url": url}}
        for i, url in enumerate(["https://media.giphy.com/media/G0/giphy.mp4", "", "", ""])
    ]
    (tmp_path / "mrw-v1.0.json").write_text(json.dumps(items))
    splits = tmp_path / "split"
    splits.mkdir()
    for name, ids in (("train", "m0\nm1\n"), ("valid", "m2\n"), ("test", "m3\n")):
        (splits / f"{name}.tsv").write_text(ids)
    videos = tmp_path / "gifs"  # the authors: "use the GIF files"
    videos.mkdir()
    for i in range(3):
        (videos / f"m{i}.gif").write_bytes(gif_bytes(scene(i, frames=5)))
    (videos / "m3.gif").write_bytes(undecodable_gif())
    out = tmp_path / "out"
    argv = ["import", "mrw-v1", "--json", str(tmp_path / "mrw-v1.0.json"), "--splits"]
    assert main([*argv, str(splits), "--out", str(out), "--videos", str(videos)]) == 0
    urls = {
        row["id"]: row["media_url"]
        for split in ("train", "validation")
        for row in iter_table(out, split, "urls")
    }
    assert urls == {"m0": items[0]["images"]["mp4_url"], "m1": None, "m2": None}
    assert "2 rows have no `media_url`" in (out / "README.md").read_text()
    report = json.loads((out / "import.json").read_text())
    assert report["skipped"] == {"undecodable_video": 1}
    assert "corrupt" in report["undecodable"]["m3"]  # the reason is recorded, per video


def iter_table(folder, split, config):
    from mrw.dataset import read_table

    return read_table(folder, split, ("id", "media_url"), config).to_pylist()


def test_features_cli_counts_skips_and_strict_aborts_with_one_line(
    tmp_path, monkeypatch, make_gif, capsys
):
    from mrw.bench.cli import main as bench

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    dataset = _dataset_with_a_bad_row(tmp_path, make_gif)
    argv = ["features", "--dataset", dataset, "--splits", "test", "--backbone", "histogram"]
    argv += ["--weights", "none", "--image-size", "32", "--num-frames", "4", "--device", "cpu"]
    assert bench([*argv, "--strict"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: ") and "p-bad" in err[-1] and "corrupt" in err[-1]
    assert bench(argv) == 0
    assert "3 videos" in (out := capsys.readouterr().out) and "skipped 1 videos" in out
