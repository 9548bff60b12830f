"""Values from outside: ids that are paths, video paths outside the dataset, URL credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrw.cli import main
from mrw.core.untrusted import (
    UnsafeInputError,
    check_http_url,
    check_id,
    clean_text,
    confined,
    one_line,
    redact_url,
)
from mrw.dataset import DatasetFormatError, VideoRow, build_dataset, load_dataset
from mrw.media.frames import FrameDecodeError
from mrw.testing.reposts import mp4_bytes, scene

UNSAFE_IDS = ["../outside/private", "/etc/passwd", "a\\b", "..", ".", "nul\x00x", "esc\x1b[2J", ""]


@pytest.mark.parametrize("value", UNSAFE_IDS)
def test_ids_that_are_not_plain_names_are_refused(value: str) -> None:
    with pytest.raises(UnsafeInputError):
        check_id(value)


def test_plain_ids_pass_and_confined_paths_stay_inside(tmp_path: Path) -> None:
    for value in ("mrw000", "tumblr_abc_400", "t3#2", "a..b", "ünïcode"):
        assert check_id(value) == value
    assert confined(tmp_path, "a/b.mp4") == tmp_path.resolve() / "a" / "b.mp4"
    (tmp_path / "link").symlink_to("/etc")
    for name in ("../x", "/etc/passwd", "link/passwd"):
        with pytest.raises(UnsafeInputError):
            confined(tmp_path, name)


def _release_with_hostile_ids(root: Path) -> Path:
    """An MRW v1.0 release whose ids are paths, plus a video folder holding a link out."""
    private = root / "outside" / "private.mp4"
    private.parent.mkdir()
    private.write_bytes(mp4_bytes(scene(1, frames=6), fps=8))
    ids = ["good", "../outside/private", str(private.with_suffix("")), "linked"]
    items = [{"id": i, "sentence": f"MRW thing {n}", "mp4_url": "https://x.example/a.mp4"}
             for n, i in enumerate(ids)]  # fmt: skip
    (root / "mrw-v1.0.json").write_text(json.dumps(items))
    split = root / "split"
    split.mkdir()
    (split / "train.tsv").write_text("\n".join(ids) + "\n")
    (split / "valid.tsv").write_text("")
    (split / "test.tsv").write_text("")
    videos = root / "videos"
    videos.mkdir()
    (videos / "good.mp4").write_bytes(mp4_bytes(scene(2, frames=6), fps=8))
    (videos / "linked.mp4").symlink_to(private)
    return videos


def test_import_never_packs_files_outside_the_videos_folder(tmp_path: Path) -> None:
    videos = _release_with_hostile_ids(tmp_path)
    out = tmp_path / "ds"
    argv = ["import", "mrw-v1", "--json", str(tmp_path / "mrw-v1.0.json")]
    argv += ["--splits", str(tmp_path / "split"), "--videos", str(videos), "--out", str(out)]
    assert main(argv) == 0
    report = json.loads((out / "import.json").read_text())
    assert report["skipped"]["unsafe_id"] == 2 and report["skipped"]["missing_video"] == 1
    table = pq.read_table(next((out / "data").glob("*.parquet")))
    assert table.column("id").to_pylist() == ["good"]
    private = (tmp_path / "outside" / "private.mp4").read_bytes()
    assert all(private not in path.read_bytes() for path in out.rglob("*.parquet"))


def test_tgif_ids_that_are_paths_are_skipped(tmp_path: Path) -> None:
    from mrw.sources.releases import read_tgif

    splits = tmp_path / "splits"
    splits.mkdir()
    (splits / "test.txt").write_text("https://h.example/a/..\nhttps://h.example/ok.gif\n")
    tsv = tmp_path / "t.tsv"
    tsv.write_text(
        "https://h.example/a/..\tsentence\nhttps://h.example/x\\..\\y.gif\tsent\n"
        "https://h.example/ok.gif\ta fine clip\n"
    )
    release = read_tgif(tsv, splits)
    assert [p.video_id for p in release.pairs] == ["ok"]
    assert release.report.skipped["unsafe_id"] == 3  # the split-file id and both TSV lines


def test_build_refuses_rows_whose_ids_are_paths(tmp_path: Path) -> None:
    row = VideoRow(id="../x", video_id="v", sentence="s", media_url="https://x.example/v")
    with pytest.raises(DatasetFormatError, match="invalid id"):
        build_dataset({"train": [row]}, tmp_path / "ds", configs=("urls",))
    assert not (tmp_path / "ds").exists()


def _path_only_dataset(folder: Path, paths: list[str]) -> Path:
    """A dataset whose rows carry only `video.path` (no bytes)."""
    data = mp4_bytes(scene(3, frames=6), fps=8)
    rows = [VideoRow.from_media(data, id=f"r{i}", video_id=f"v{i}", sentence="s") for i in range(2)]
    build_dataset({"train": rows}, folder)
    shard = next((folder / "data").glob("*.parquet"))
    table = pq.read_table(shard)
    video = pa.array([{"bytes": None, "path": p} for p in paths], table.schema.field("video").type)
    pq.write_table(table.set_column(table.schema.get_field_index("video"), "video", video), shard)
    (folder / "inside.mp4").write_bytes(data)
    return folder


def test_load_dataset_reads_video_paths_only_inside_the_dataset_folder(tmp_path: Path) -> None:
    outside = tmp_path / "secret.mp4"
    outside.write_bytes(mp4_bytes(scene(4, frames=6), fps=8))
    folder = _path_only_dataset(tmp_path / "ds", ["inside.mp4", str(outside)])
    ds = load_dataset(folder, split="train", cache_dir=str(tmp_path / "hf"))
    assert ds[0]["frames"].shape[0] == 8
    with pytest.raises(FrameDecodeError, match="outside the dataset folder"):
        ds[1]


def test_url_credentials_are_redacted_everywhere() -> None:
    assert redact_url("http://u:PASS@host:8/p?q=1") == "http://***@host:8/p?q=1"
    assert redact_url("https://host/p") == "https://host/p"
    assert "PASS" not in one_line("fetch http://u:PASS@h/x failed; ftp://t@h2/ too")
    for bad in ("not-a-url", "ftp://u:PASS@h/x", "http://", "http://h:port/", "http://h/\x1b"):
        with pytest.raises(UnsafeInputError) as info:
            check_http_url(bad, "--mirror")
        assert "PASS" not in str(info.value)


@pytest.mark.slow  # the dead mirror is retried with back-off before the error
def test_download_mirror_password_is_not_printed(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    for mirror in ("http://u:PASS@127.0.0.1:9/pvse", "ftp://u:PASS@h/x", "not-a-url"):
        assert main(["download", "tgif", "--mirror", mirror, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err
        assert "error:" in err and "PASS" not in err and "Traceback" not in err


def test_clean_text_strips_control_characters_and_caps_length() -> None:
    assert clean_text("a\x1b[31mred\nline\x00", "name", 50) == "a [31mred line"
    overrides = "".join(map(chr, [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]))
    assert clean_text(f"evil{overrides}\u200bexe.gif é", "name", 50) == "evilexe.gif é"
    with pytest.raises(UnsafeInputError, match="at most 10"):
        clean_text("x" * 11, "name", 10)


def test_collect_host_map_credentials_are_not_recorded(tmp_path: Path, capsys) -> None:
    import sqlite3

    post = {"id": "p1", "title": "MRW a test case", "url": "http://h.example/a.gif"}
    dump = tmp_path / "d.ndjson"
    dump.write_text(json.dumps({**post, "subreddit": "reactiongifs", "created_utc": 1}) + "\n")
    out = tmp_path / "out"
    argv = ["--dump", str(dump), "--out", str(out), "--no-progress", "--allow-private"]
    argv += ["--no-ytdlp", "--retries", "0", "--host-map", "h.example=http://u:PASS@127.0.0.1:9"]
    assert main(["collect", *argv]) == 2  # the one download failed: no media collected
    printed = capsys.readouterr()
    assert "no media collected" in printed.err and "PASS" not in printed.out + printed.err
    assert "PASS" not in (out / "report.json").read_text()
    assert "***@127.0.0.1:9" in (out / "report.json").read_text()
    with sqlite3.connect(out / "state.sqlite") as conn:
        for table in ("attempts", "downloads", "resolutions"):
            rows = conn.execute(f"SELECT * FROM {table}").fetchall()
            assert rows and "PASS" not in repr(rows), table


@pytest.mark.parametrize("post_id", ["../x", "a/b", "x\x1b[2J", ".."])
def test_collected_posts_with_unsafe_ids_are_rejected_with_a_reason(post_id: str) -> None:
    from mrw.collect.dumps import post_from_reddit_json
    from mrw.collect.filters import PostFilter

    post = post_from_reddit_json(
        {"id": post_id, "title": "MRW x", "url": "https://i.imgur.com/x.gif", "score": 3}
    )
    assert PostFilter().reject_reason(post) == "unsafe id"


def test_publish_never_uploads_a_file_from_outside_the_folder(tmp_path: Path, capsys) -> None:
    folder = _path_only_dataset(tmp_path / "ds", ["inside.mp4", "inside.mp4"])
    secret = tmp_path / "id_rsa"
    secret.write_text("private key")
    (folder / "qrels").mkdir()
    (folder / "qrels" / "notes.txt").symlink_to(secret)
    assert main(["publish", str(folder), "--repo", "a/b", "--dry-run"]) == 2
    assert "points outside" in capsys.readouterr().err
