"""Importers of MS-COCO / Flickr30K: Karpathy split files and the precomputed-feature layout,
on small files written in the real formats."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch

from mrw.cli import main
from mrw.dataset import load_dataset, read_table, split_files


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (48, 32)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _karpathy_image(imgid, split, filename, captions, filepath=None, cocoid=None):
    """One entry as dataset_coco.json / dataset_flickr30k.json spell it."""
    entry = {
        "filename": filename,
        "imgid": imgid,
        "split": split,
        "sentids": list(range(imgid * 10, imgid * 10 + len(captions))),
        "sentences": [
            {
                "tokens": c.lower().rstrip(".").split(),
                "raw": c,
                "imgid": imgid,
                "sentid": imgid * 10 + k,
            }
            for k, c in enumerate(captions)
        ],
    }
    if filepath is not None:
        entry["filepath"] = filepath
    if cocoid is not None:
        entry["cocoid"] = cocoid
    return entry


COCO_IMAGES = [
    # (split, folder, cocoid, colour, captions): one image with 6 captions (COCO has some)
    ("test", "val2014", 391895, (200, 30, 30), [f"A red thing number {k}." for k in range(6)]),
    ("train", "train2014", 9, (30, 200, 30), [f"A green  thing {k}" for k in range(5)]),
    ("restval", "val2014", 42, (30, 30, 200), [f"A blue thing {k}" for k in range(5)]),
    ("val", "val2014", 73, (220, 220, 30), [f"A yellow thing {k}" for k in range(5)]),
    ("test", "val2014", 74, (30, 220, 220), [f"A cyan thing {k}" for k in range(5)]),
]


def _coco_fixture(root):
    images = root / "images"
    entries = []
    for imgid, (split, folder, cocoid, colour, captions) in enumerate(COCO_IMAGES):
        name = f"COCO_{folder}_{cocoid:012d}.jpg"
        (images / folder).mkdir(parents=True, exist_ok=True)
        (images / folder / name).write_bytes(_jpeg(colour))
        entries.append(_karpathy_image(imgid, split, name, captions, folder, cocoid))
    path = root / "dataset_coco.json"
    path.write_text(json.dumps({"images": entries, "dataset": "coco"}))
    return path, images


def test_karpathy_coco_with_images(tmp_path, capsys):
    karpathy, images = _coco_fixture(tmp_path)
    out = tmp_path / "coco"
    args = ["import", "coco", "--karpathy", str(karpathy), "--images", str(images)]
    assert main([*args, "--out", str(out)]) == 0
    assert "skipped extra_caption: 1" in capsys.readouterr().out
    assert set(split_files(out, "default")) == {"train", "validation", "test"}
    train = read_table(out, "train", ("id", "video_id", "sentence", "media_url"))
    # train + restval = the paper's training split; captions keep their raw text, spaces squeezed
    assert train.column("video_id").to_pylist() == ["9"] * 5 + ["42"] * 5
    assert train.column("sentence").to_pylist()[0] == "A green thing 0"
    assert train.column("media_url").to_pylist()[5] == (
        "http://images.cocodataset.org/val2014/COCO_val2014_000000000042.jpg"
    )
    test = read_table(out, "test", ("id", "video_id"))
    # file order kept (the 1K folds depend on it), first five captions only
    assert test.column("video_id").to_pylist() == ["391895"] * 5 + ["74"] * 5
    assert test.column("id").to_pylist()[:2] == ["391895#0", "391895#1"]
    rows = load_dataset(out, split="test", num_frames=1, size=16)
    first = rows[0]
    assert first["frames"].shape == (1, 3, 16, 16)
    assert first["width"] == 48 and first["num_frames"] == 1
    assert np.abs(first["frames"].float().mean((0, 2, 3)).numpy() - (200, 30, 30)).max() < 8
    assert any(out.rglob("*.qrels"))


def test_karpathy_coco_url_only(tmp_path):
    karpathy, _ = _coco_fixture(tmp_path)
    out = tmp_path / "coco-urls"
    assert main(["import", "coco", "--karpathy", str(karpathy), "--out", str(out)]) == 0
    assert set(split_files(out)) == {"train", "validation", "test"}
    assert not (out / "data").exists()
    val = read_table(out, "validation", ("media_url",), config="urls")
    assert (
        val.column("media_url").to_pylist()
        == ["http://images.cocodataset.org/val2014/COCO_val2014_000000000073.jpg"] * 5
    )


def test_karpathy_flickr30k_needs_images_and_reads_a_flat_folder(tmp_path, capsys):
    images = tmp_path / "flickr30k-images"
    images.mkdir()
    entries = []
    for imgid, split in enumerate(("train", "train", "val", "test", "test")):
        name = f"{1000092795 + imgid}.jpg"
        (images / name).write_bytes(_jpeg((20 * imgid, 100, 100)))
        entries.append(
            _karpathy_image(imgid, split, name, [f"caption {imgid} {k}" for k in range(5)])
        )
    entries[1]["filename"] = "missing.jpg"  # an image the user's folder lacks
    karpathy = tmp_path / "dataset_flickr30k.json"
    karpathy.write_text(json.dumps({"images": entries, "dataset": "flickr30k"}))
    # no public URLs: --images is required (a one-line usage error, exit 2)
    assert main(["import", "flickr30k", "--karpathy", str(karpathy)]) == 2
    assert "--images" in capsys.readouterr().err
    capsys.readouterr()
    out = tmp_path / "f30k"
    args = ["import", "flickr30k", "--karpathy", str(karpathy), "--images", str(images)]
    assert main([*args, "--out", str(out)]) == 0
    assert "skipped missing_video: 5" in capsys.readouterr().out
    assert set(split_files(out)) == {"train", "validation", "test"}
    # no public URLs: the redistributable config holds null media_url (counted in the card)
    urls = read_table(out, "train", ("media_url",), config="urls")
    assert urls.column("media_url").to_pylist() == [None] * 5
    test = read_table(out, "test", ("video_id", "id"))
    assert test.column("video_id").to_pylist() == ["1000092798"] * 5 + ["1000092799"] * 5


def test_karpathy_bad_input_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "dataset_coco.json"
    bad.write_text(json.dumps([{"not": "karpathy"}]))
    assert main(["import", "coco", "--karpathy", str(bad), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Karpathy split file" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def _write_precomp(folder, stem, images: np.ndarray, per_image: int = 5):
    folder.mkdir(exist_ok=True)
    np.save(folder / f"{stem}_ims.npy", images)
    lines = [f"{stem} image {i} caption {k}" for i in range(len(images)) for k in range(per_image)]
    (folder / f"{stem}_caps.txt").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize("regions", [None, 3])
def test_precomp_layout_goes_into_the_feature_cache(tmp_path, monkeypatch, regions):
    from mrw.bench.features import FeatureSpec, extract_features

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    rng = np.random.default_rng(0)
    folder = tmp_path / "coco_precomp"
    shape = (lambda n: (n, 8)) if regions is None else (lambda n: (n, regions, 8))
    arrays = {
        stem: rng.normal(size=shape(n)).astype(np.float32)
        for stem, n in (("train", 6), ("dev", 2), ("test", 2), ("testall", 4))
    }
    for stem, array in arrays.items():
        _write_precomp(folder, stem, array)
    assert main(["import", "precomp", str(folder), "--name", "coco"]) == 0
    test, _ = extract_features(FeatureSpec("coco", "test", "precomp"), progress=False)
    # testall (COCO's 5K) is preferred over test; captions 5i..5i+4 belong to image i
    assert test.video_ids == ["000000", "000001", "000002", "000003"]
    assert test.pair_ids[5:7] == ["000001#0", "000001#1"]
    assert test.sentences[7] == "testall image 1 caption 2"
    assert test.pair_video.tolist() == [i for i in range(4) for _ in range(5)]
    expected = torch.from_numpy(arrays["testall"]).reshape(4, regions or 1, 8).half()
    assert torch.equal(test.features, expected)
    assert test.lengths.tolist() == [regions or 1] * 4
    validation, _ = extract_features(FeatureSpec("coco", "validation", "precomp"), progress=False)
    assert len(validation.video_ids) == 2 and validation.sentences[0] == "dev image 0 caption 0"


def test_precomp_bad_layout_is_a_one_line_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "f30k_precomp"
    for stem in ("train", "dev", "test"):
        _write_precomp(folder, stem, np.zeros((3, 4), np.float32))
    (folder / "dev_caps.txt").write_text("one\ntwo\n")  # 2 captions for 3 images
    assert main(["import", "precomp", str(folder), "--name", "flickr30k"]) == 2
    err = capsys.readouterr().err
    assert "2 captions for 3 images" in err and "Traceback" not in err
    (folder / "test_ims.npy").unlink()
    assert main(["import", "precomp", str(folder), "--name", "flickr30k"]) == 2
    assert "no test split" in capsys.readouterr().err
