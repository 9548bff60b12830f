"""Issue 12 cases 7-9 and issue 17.6: dump formats, cut dumps, over-long lines, escaped links."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import sqlite3

import pytest
import zstandard

from mrw.cli import main
from mrw.collect.dumps import DumpError, DumpStats, iter_dump, post_from_reddit_json
from mrw.collect.state import STATE_FILE


def _post(k: int, **fields) -> dict:
    return {
        "id": f"p{k}",
        "title": f"MRW test number {k}",
        "subreddit": "reactiongifs",
        "url": f"https://i.imgur.com/clip{k}.gifv",
        "created_utc": 1300000000 + k,
        "score": 5,
        **fields,
    }


def _ndjson(count: int) -> bytes:
    return "".join(json.dumps(_post(k)) + "\n" for k in range(count)).encode()


COMPRESSORS = {
    "RS_2011-01.bz2": bz2.compress,
    "RS_2011-01.xz": lzma.compress,
    "RS_2011-01.gz": gzip.compress,
    "RS_2011-01.zst": lambda data: zstandard.ZstdCompressor().compress(data),
    "RS_2011-01.ndjson": lambda data: data,
    "no-extension": bz2.compress,  # the bytes decide, not the name
}


@pytest.mark.parametrize("name", list(COMPRESSORS))
def test_case7_every_pushshift_format_is_read(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(COMPRESSORS[name](_ndjson(116)))
    stats = DumpStats()
    posts = list(iter_dump(path, stats))
    assert [p.id for p in posts] == [f"p{k}" for k in range(116)]
    assert stats.skipped == {}


@pytest.mark.parametrize(
    "content",
    [b"PK\x03\x04zip archive", "\ufeff{}".encode("utf-16"), bytes(range(200, 256)) * 8, b""],
    ids=["zip", "utf-16", "binary", "empty"],
)
def test_case7_a_file_in_no_known_format_is_exit_2_with_one_line(tmp_path, capsys, content):
    path = tmp_path / "RS_2011-01.bz2"
    path.write_bytes(content)
    with pytest.raises(DumpError, match="not a submissions dump|empty file"):
        list(iter_dump(path))
    code = main(["collect", "--dump", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and str(path) in err


@pytest.mark.parametrize(
    "compress",
    [COMPRESSORS["RS_2011-01.zst"], lambda data: bz2.compress(data, 1), gzip.compress],
    ids=["zst", "bz2-100k-blocks", "gz"],
)
def test_case8_a_cut_dump_is_an_error_and_the_posts_before_the_cut_are_kept(
    tmp_path, capsys, compress
):
    path = tmp_path / "RS_2016-11.zst"
    whole = compress(_ndjson(2000))
    path.write_bytes(whole[: len(whole) // 2])
    read = []
    with pytest.raises(DumpError, match="truncated") as raised:
        read.extend(iter_dump(path))
    assert str(path) in str(raised.value)
    assert 0 < len(read) < 2000
    out = tmp_path / "out"
    argv = ["collect", "--dump", str(path), "--out", str(out), "--no-progress", "--no-download"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "truncated" in err and str(path) in err
    with sqlite3.connect(out / STATE_FILE) as conn:
        stored = [row[0] for row in conn.execute("SELECT id FROM posts ORDER BY seq")]
    assert stored == [p.id for p in read]  # nothing read before the cut is lost
    path.write_bytes(whole)  # the download completed: resuming reads the rest
    assert main(argv) == 0
    with sqlite3.connect(out / STATE_FILE) as conn:
        assert conn.execute("SELECT COUNT(*) FROM posts").fetchone() == (2000,)


def test_17_6_an_over_long_line_is_a_malformed_record_read_in_bounded_memory(tmp_path):
    compressor = zstandard.ZstdCompressor().compressobj()
    data = compressor.compress(json.dumps(_post(0)).encode() + b"\n" + b'{"title": "')
    for _ in range(64):  # a 64 MiB line in a few KB
        data += compressor.compress(b"a" * (1 << 20))
    data += compressor.compress(b'"}\n' + json.dumps(_post(1)).encode() + b"\n")
    data += compressor.flush()
    path = tmp_path / "bomb.zst"
    path.write_bytes(data)
    assert len(data) < 100_000
    stats = DumpStats()
    posts = list(iter_dump(path, stats, max_line_chars=1 << 20))
    assert [p.id for p in posts] == ["p0", "p1"]
    assert stats.skipped == {"malformed record": 1} and stats.lines == 3


def test_case9_escaped_links_are_unescaped_once():
    escaped = _post(0, url="https://preview.redd.it/abc.gif?format=mp4&amp;s=SIG")
    assert post_from_reddit_json(escaped).url == "https://preview.redd.it/abc.gif?format=mp4&s=SIG"
    twice = _post(0, url="https://host/x.gif?a=1&amp;amp;b=2")  # unescaped once only
    assert post_from_reddit_json(twice).url == "https://host/x.gif?a=1&amp;b=2"


def test_deeply_nested_json_is_a_malformed_record_and_reading_goes_on(tmp_path):
    deep = b'{"title": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    path = tmp_path / "RS_deep.ndjson"
    path.write_bytes(
        json.dumps(_post(0)).encode() + b"\n" + deep + b"\n" + json.dumps(_post(1)).encode() + b"\n"
    )
    stats = DumpStats()
    assert [p.id for p in iter_dump(path, stats)] == ["p0", "p1"]
    assert stats.skipped == {"malformed record": 1}
