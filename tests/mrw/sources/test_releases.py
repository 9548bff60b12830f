"""`mrw import tgif` / `mrw import mrw-v1`: the original releases in their published formats."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.sources.releases import read_tgif, tgif_video_id
from mrw.testing.reposts import gif_bytes, mp4_bytes, scene

DATA = Path(__file__).resolve().parents[2] / "data" / "tgif"


def _import(release: str, source: Path, splits: Path, out: Path, *extra: object) -> int:
    """`mrw import RELEASE --tsv|--json SOURCE --splits SPLITS --out OUT [EXTRA...]`."""
    flag = "--tsv" if release == "tgif" else "--json"
    argv = ["import", release, flag, str(source), "--splits", str(splits), "--out", str(out)]
    return main([*argv, *map(str, extra)])


def _load(folder: Path, config: str):
    """The plain HF view of a folder, media left as bytes (no video decoder)."""
    import datasets

    return datasets.load_dataset(str(folder), config).cast_column(
        "video", datasets.Video(decode=False)
    )


def test_tgif_video_id_matches_the_pvse_code() -> None:
    url = "https://38.media.tumblr.com/9f6c25cc350f12aa74a7dc386a5c4985/tumblr_mevmyaKtDf1rgvhr8o1_500.gif"
    assert tgif_video_id(url) == "tumblr_mevmyaKtDf1rgvhr8o1_500"


def test_real_tgif_files_import_to_a_url_only_dataset(tmp_path: Path, capsys) -> None:
    """The slice of the real release files: split lists + the test TSV in the release format."""
    out = tmp_path / "tgif"
    assert _import("tgif", DATA / "generated-captions-test.tsv", DATA, out) == 0
    loaded = _load(out, "urls")
    assert set(loaded) == {"validation", "test"}  # the TSV names no GIF outside val/test
    test, validation = loaded["test"], loaded["validation"]
    assert len(set(test["video_id"])) == 20 and len(set(validation["video_id"])) == 10
    first_url = (DATA / "test.txt").read_text().split()[0]
    row = test.filter(lambda r: r["media_url"] == first_url)[0]
    tsv = dict(
        line.split("\t") for line in (DATA / "generated-captions-test.tsv").read_text().splitlines()
    )
    assert row["sentence"] == tsv[first_url] and row["video"] is None
    assert row["id"] == f"{row['video_id']}#0" and row["source"] == "tgif"
    # validation GIFs have no sentence in this TSV: kept (all videos), empty, out of the qrels
    assert set(validation["sentence"]) == {""}
    assert not (out / "qrels" / "validation").exists()
    assert len((out / "qrels" / "test" / "t2v.qrels").read_text().splitlines()) == 20
    report = json.loads((out / "import.json").read_text())
    assert report["videos"] == {"validation": 10, "test": 20}
    assert report["videos_without_sentence"] == {"validation": 10}
    assert "10" in capsys.readouterr().out


def _release_tsv(path: Path) -> dict[str, list[str]]:
    """A TSV in the full release's shape: 3 sentences per test GIF, 1 per val GIF, train GIFs."""
    test_urls = (DATA / "test.txt").read_text().split()[:4]
    val_urls = (DATA / "val.txt").read_text().split()[:3]
    train_urls = [f"https://38.media.tumblr.com/abc{i}/tumblr_train{i}_400.gif" for i in range(5)]
    sentences = {
        u: [f"a person does thing {k} in clip {i} ." for k in range(3)]
        for i, u in enumerate(test_urls)
    }
    sentences |= {u: [f"a cat jumps in clip {i} ."] for i, u in enumerate(val_urls + train_urls)}
    lines = [f"{u}\t{s}" for u, ss in sentences.items() for s in ss]
    lines.insert(2, "this line has no tab")
    lines.append(f"{test_urls[0]}\t{sentences[test_urls[0]][0]}")  # a repeated line
    path.write_text("\n".join(lines) + "\n")
    return sentences


def test_tgif_test_gifs_keep_all_three_sentences_grouped(tmp_path: Path) -> None:
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("test.txt", "val.txt"):
        shutil.copy(DATA / name, splits / name)
    sentences = _release_tsv(tmp_path / "tgif-v1.0.tsv")
    release = read_tgif(tmp_path / "tgif-v1.0.tsv", splits)
    assert release.report.skipped == {"malformed_line": 1, "duplicate_sentence": 1}

    videos = tmp_path / "gifs"
    videos.mkdir()
    with_media = list(sentences)[:2] + list(sentences)[4:5]  # two test GIFs, one val GIF
    for i, url in enumerate(with_media):
        (videos / f"{tgif_video_id(url)}.gif").write_bytes(gif_bytes(scene(i, frames=6)))
    out = tmp_path / "tgif"
    assert _import("tgif", tmp_path / "tgif-v1.0.tsv", splits, out, "--videos", videos) == 0
    full = _load(out, "default")
    assert {s: len(full[s]) for s in full} == {"validation": 1, "test": 6}  # no train GIF is local
    test = full["test"]
    by_video: dict[str, list[str]] = {}
    for row in test:
        by_video.setdefault(row["video_id"], []).append(row["sentence"])
    first = tgif_video_id(with_media[0])
    assert by_video[first] == sentences[with_media[0]]  # all three, in file order
    assert test[0]["num_frames"] == 6 and test[0]["video"]["bytes"][:6] == b"GIF89a"
    v2t = (out / "qrels" / "test" / "v2t.qrels").read_text().splitlines()
    assert [line.split()[2] for line in v2t if line.startswith(first + " ")] == [
        f"{first}#{k}" for k in range(3)
    ]
    report = json.loads((out / "import.json").read_text())
    assert report["skipped"]["missing_video"] > 0 and report["configs"] == ["default", "urls"]


def test_tgif_without_train_list_takes_the_rest_as_train(tmp_path: Path) -> None:
    splits = tmp_path / "splits"
    splits.mkdir()
    for name in ("test.txt", "val.txt"):
        shutil.copy(DATA / name, splits / name)
    _release_tsv(tmp_path / "t.tsv")
    release = read_tgif(tmp_path / "t.tsv", splits)
    train = [p for p in release.pairs if p.split == "train"]
    assert sorted(p.video_id for p in train) == [f"tumblr_train{i}_400" for i in range(5)]
    (splits / "train.txt").write_text("https://38.media.tumblr.com/abc0/tumblr_train0_400.gif\n")
    release = read_tgif(tmp_path / "t.tsv", splits)  # with a train list, the others are skipped
    assert [p.video_id for p in release.pairs if p.split == "train"] == ["tumblr_train0_400"]
    assert release.report.skipped["not_in_any_split"] == 4


def test_a_gif_in_two_splits_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    splits = tmp_path / "splits"
    splits.mkdir()
    shutil.copy(DATA / "test.txt", splits / "test.txt")
    shutil.copy(DATA / "test.txt", splits / "val.txt")
    code = _import("tgif", DATA / "generated-captions-test.tsv", splits, tmp_path / "o")
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "both the validation and test splits" in err
    assert not (tmp_path / "o").exists()


def _mrw_release(root: Path) -> list[dict]:
    """mrw-v1.0.json + split/*.tsv in the layout of the PVSE release (mrw-v1.0.tar.gz)."""
    items = [
        {
            "id": f"mrw{i:03d}",
            "sentence": f"MRW my friend does thing {i}",
            "images": {"mp4_url": f"https://media.giphy.com/media/Gif{i}/giphy.mp4"},
        }
        for i in range(10)
    ]
    items.append({"id": "broken"})  # no sentence
    (root / "mrw-v1.0.json").write_text(json.dumps(items))
    split = root / "split"
    split.mkdir()
    (split / "train.tsv").write_text("\n".join(f"mrw{i:03d}" for i in range(6)) + "\n")
    (split / "valid.tsv").write_text("mrw006\nmrw007\n")
    (split / "test.tsv").write_text("mrw008\nmrw009\nmrw404\n")  # mrw404: listed, not in the JSON
    return items


def test_mrw_v1_imports_urls_and_local_videos(tmp_path: Path) -> None:
    items = _mrw_release(tmp_path)
    out = tmp_path / "urls"
    assert _import("mrw-v1", tmp_path / "mrw-v1.0.json", tmp_path / "split", out) == 0
    loaded = _load(out, "urls")
    assert {s: len(loaded[s]) for s in loaded} == {"train": 6, "validation": 2, "test": 2}
    row = loaded["test"][0]
    assert (row["id"], row["video_id"], row["sentence"], row["media_url"]) == (
        "mrw008",
        "mrw008",
        items[8]["sentence"],
        items[8]["images"]["mp4_url"],
    )
    report = json.loads((out / "import.json").read_text())
    assert report["skipped"] == {"listed_but_not_in_json": 1, "malformed_item": 1}

    videos = tmp_path / "mp4"
    videos.mkdir()
    for i in range(10):
        (videos / f"mrw{i:03d}.mp4").write_bytes(mp4_bytes(scene(i, frames=6), fps=8))
    (videos / "mrw009.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom-not-really-a-video")
    full_dir = tmp_path / "full"
    assert (
        _import(
            "mrw-v1",
            tmp_path / "mrw-v1.0.json",
            tmp_path / "split",
            full_dir,
            "--videos",
            videos,
        )
        == 0
    )
    full = _load(full_dir, "default")
    assert len(full["test"]) == 1 and full["test"][0]["num_frames"] == 6
    assert json.loads((full_dir / "import.json").read_text())["skipped"]["undecodable_video"] == 1


@pytest.mark.parametrize("content", ["{not json", '{"id": "a"}'])
def test_mrw_v1_bad_json_is_a_one_line_error(tmp_path: Path, capsys, content: str) -> None:
    _mrw_release(tmp_path)
    (tmp_path / "mrw-v1.0.json").write_text(content)
    assert _import("mrw-v1", tmp_path / "mrw-v1.0.json", tmp_path / "split", tmp_path / "o") == 2
    assert capsys.readouterr().err.startswith("error: ")
