"""Issue 28, items 8 and 9: a cut MP4 is one `FrameDecodeError` at every decode boundary.

A download cut inside the MP4's index (its codec unknown) once raised `AttributeError` from
`mrw.media.frames`: `mrw collect` ended with a traceback, the post stayed pending and every resume
failed on it again. Here the same file goes through probe/decode, `mrw collect` (exit 0, the
post refused with its reason, a resume finishes), `mrw clean`, `load_dataset` frame access
and feature extraction; and the collect summary lists each refusal reason on its own row.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.collect.state import STATE_FILE
from mrw.media.frames import FrameDecodeError, decode, probe, verify
from mrw.testing import refused_shapes
from mrw.testing.gifs import GifWriter, solid_palette
from mrw.testing.media import make_gif
from mrw.testing.media_server import MediaServer
from mrw.testing.reposts import FakePost, gif_bytes, make_collection, scene

CUT_IN_INDEX = "the video stream's codec is unknown"
CUT_IN_DATA = "truncated input"


@pytest.fixture(scope="module")
def cut_mp4s() -> dict[str, bytes]:
    return {
        CUT_IN_INDEX: refused_shapes.mp4_cut_before_codec(),
        CUT_IN_DATA: refused_shapes.truncated_mp4(0.5),
    }


def test_probe_verify_and_decode_refuse_a_cut_mp4_with_the_reason(cut_mp4s):
    for reason, data in cut_mp4s.items():
        for run in (probe, verify, decode):
            with pytest.raises(FrameDecodeError, match=reason):
                run(data)


def _post(i: int, url: str) -> dict:
    return {
        "id": f"p{i}",
        "title": f"MRW case {i}",
        "url": url,
        "subreddit": "reactiongifs",
        "created_utc": 1_400_000_000 + i,
        "score": 10,
    }


@pytest.mark.slow
def test_collect_skips_a_cut_mp4_counts_it_by_reason_and_resumes(tmp_path, cut_mp4s, capsys):
    still = GifWriter(8, 8, palette=solid_palette(2)).image(1).bytes()
    bodies = {
        "good.gif": make_gif(1),
        "cut-index.mp4": cut_mp4s[CUT_IN_INDEX],
        "cut-data.mp4": cut_mp4s[CUT_IN_DATA],
        "still.gif": still,
    }
    dump = tmp_path / "posts.ndjson"
    out = tmp_path / "out"
    with MediaServer() as server:
        for name, body in bodies.items():
            server.add(f"/{name}", body, host="media.example.com")
        posts = [_post(i, f"https://media.example.com/{name}") for i, name in enumerate(bodies)]
        dump.write_text("".join(json.dumps(p) + "\n" for p in posts))
        argv = ["collect", "--dump", str(dump), "--out", str(out), "--no-progress", "--no-ytdlp"]
        argv += ["--allow-private", "--retries", "0"]
        argv += ["--host-map", f"media.example.com={server.base_url}"]
        assert main(argv) == 0
        printed = capsys.readouterr()
        assert "Traceback" not in printed.err
        counts = json.loads((out / "report.json").read_text())["counts"]["downloads"]
        assert counts == {
            "ok": 1,
            f"corrupt: {CUT_IN_INDEX}": 1,
            f"corrupt: {CUT_IN_DATA}": 1,
            "corrupt: still image": 1,
        }
        for bucket in counts:  # one summary row per reason
            assert bucket in " ".join(printed.out.split())
        with sqlite3.connect(out / STATE_FILE) as conn:
            reasons = dict(conn.execute("SELECT post_id, reason FROM downloads"))
        assert reasons["p1"].startswith(CUT_IN_INDEX) and reasons["p1"].endswith("(video/mp4)")
        hits = sum(server.hits.values())
        assert main(argv) == 0  # the resume has nothing left to do: refusals are final
        assert sum(server.hits.values()) == hits
    again = json.loads((out / "report.json").read_text())
    assert again["counts"]["downloads"] == counts and again["this_run"]["downloads"] == 0


def test_clean_drops_a_cut_mp4_as_decode_failed(tmp_path, cut_mp4s):
    good = gif_bytes(scene(1))
    posts = [FakePost("p1", "MRW the deploy works", 10, good)]
    posts += [
        FakePost(f"p{k + 2}", f"MRW clip {k} is cut", 20 + k, data)
        for k, data in enumerate(cut_mp4s.values())
    ]
    collection = make_collection(tmp_path / "coll", posts)
    assert main(["clean", str(collection), "--workers", "1"]) == 0
    out = collection / "clean"
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert [(d["id"], d["reason"]) for d in dropped] == [
        ("p2", "decode_failed"),
        ("p3", "decode_failed"),
    ]
    assert CUT_IN_INDEX in dropped[0]["detail"] and CUT_IN_DATA in dropped[1]["detail"]


def _dataset_with_cut_rows(root: Path, cut_mp4s: dict[str, bytes]) -> str:
    from mrw.dataset import VideoRow, build_dataset

    good = VideoRow.from_media(make_gif(2), id="good", video_id="v-good", sentence="mrw fine")
    bad = [
        VideoRow(  # slipped in: built without the admission check
            id=f"cut{k}",
            video_id=f"v-cut{k}",
            sentence=f"mrw cut {k}",
            video_bytes=data,
            video_path=f"v-cut{k}.mp4",
        )
        for k, data in enumerate(cut_mp4s.values())
    ]
    return str(build_dataset({"test": [good, *bad]}, root / "ds"))


def test_load_dataset_and_feature_extraction_meet_a_decode_error(tmp_path, cut_mp4s, monkeypatch):
    from mrw.bench.features import FeatureSpec, extract_features
    from mrw.dataset import VideoRow, load_dataset

    for data in cut_mp4s.values():  # admission refuses both
        with pytest.raises(FrameDecodeError):
            VideoRow.from_media(data, id="x", video_id="x", sentence="mrw x")
    dataset = _dataset_with_cut_rows(tmp_path, cut_mp4s)
    rows = load_dataset(dataset, split="test", num_frames=2, cache_dir=str(tmp_path / "hf"))
    assert rows[0]["frames"].shape[0] == 2
    for index, reason in ((1, CUT_IN_INDEX), (2, CUT_IN_DATA)):
        with pytest.raises(FrameDecodeError, match=f"row cut{index - 1}: {reason}"):
            rows[index]
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    spec = FeatureSpec(dataset, "test", "histogram", "none", num_frames=2, image_size=16)
    feats, _ = extract_features(spec, progress=False)
    assert feats.video_ids == ["v-good"]
    assert CUT_IN_INDEX in feats.skipped["v-cut0"] and CUT_IN_DATA in feats.skipped["v-cut1"]


def test_stills_missing_or_cut_are_decode_errors_too(tmp_path):
    """Image-text rows go through `mrw.media.images`: the same one error type at its boundary."""
    import io

    from PIL import Image

    from mrw.media.images import decode_media, decode_still, verify_media

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 10, 10)).save(buffer, "PNG")
    cut = buffer.getvalue()[:60]
    for run in (lambda: decode_media(cut), lambda: verify_media(cut)):
        with pytest.raises(FrameDecodeError):
            run()
    with pytest.raises(FrameDecodeError, match="cannot read .*missing.png"):
        decode_still(tmp_path / "missing.png")
