"""Issue 12 end to end: `mrw collect` -> `mrw clean` on a Pushshift-style `.bz2` dump of clips
that browsers play (served by a loopback host) keeps every one of them; the media no browser
plays and a repost are dropped, each with its reason in the reports."""

from __future__ import annotations

import bz2
import io
import json
import sqlite3

import pytest
from PIL import Image

from mrw.cli import main
from mrw.collect.state import STATE_FILE
from mrw.testing import clips
from mrw.testing.gifs import GifWriter
from mrw.testing.media_server import MediaServer, Request, Route
from mrw.testing.reposts import gif_bytes, mp4_bytes, scene

PLAYABLE = {
    # case 1: every delay 1 cs (a browser shows 100 ms per frame)
    "c1": ("MRW the build finally passes", lambda: clips.gif_of(scene(11), [1] * 16, [None] * 16)),
    # case 2: a comment block after the last image
    "c2": (
        "MRW my cat knocks the glass over",
        lambda: clips.gif_of(scene(12, 6), [10] * 6, [None] * 6).comment(),
    ),
    # case 3: an MP4 cut without re-encoding (edit list)
    "c3": (
        "MRW the meeting could have been an email",
        lambda: clips.cut_without_reencoding(
            clips.mp4(40, size=(96, 72), content=scene(13, 40)), 25
        ),
    ),
    # case 4: a rotated phone video
    "c4": (
        "MRW my friend finally pays me back",
        lambda: clips.mp4(12, size=(72, 96), rotation=-90, content=scene(14, 12, 72, 96)),
    ),
    # case 6: images partly outside the logical screen
    "c6": (
        "MRW the pizza arrives early",
        lambda: clips.gif_of(scene(16, 5), [10] * 5, [None, *[(40, 30, 80, 60)] * 4]),
    ),
    # case 9: a preview link whose `&` the dump escapes (the host refuses `&amp;s=`)
    "c9": ("MRW the deploy works on friday", lambda: mp4_bytes(scene(19, 12))),
    "webm": (
        "MRW it works on my machine",
        lambda: clips.mp4(10, codec="libvpx-vp9", fmt="webm", content=scene(20, 10)),
    ),
    "plain": ("MRW the weekend starts", lambda: gif_bytes(scene(21))),
    # a CDN answering a .gif link with an animated WebP (browsers play it)
    "webp": ("MRW the coffee machine is fixed", lambda: _webp(scene(23, 8))),
}
NOT_PLAYED = {  # what a browser does not play either: refused with a reason
    "still": ("MRW a single picture of me", lambda: gif_bytes(scene(22, 1))),
    "still-webp": ("MRW a single picture of you", lambda: _webp(scene(24, 1))),
    "broken": (
        "MRW the colours are missing",
        lambda: GifWriter(40, 30).image(0).image(1).image(0).image(1),
    ),
}
REPOST = ("repost", "MRW the weekend starts again", lambda: mp4_bytes(scene(21), size=(48, 36)))


def _webp(frames) -> bytes:
    images = [Image.fromarray(f) for f in frames]
    buffer = io.BytesIO()
    images[0].save(buffer, "WEBP", save_all=True, append_images=images[1:], duration=100, loop=0)
    return buffer.getvalue()


def _bytes(make) -> bytes:
    made = make()
    return made.bytes() if isinstance(made, GifWriter) else made


def _preview(body: bytes):
    def answer(request: Request) -> Route:
        if request.query == {"format": "mp4", "s": "SIG"}:
            return Route(body=body, content_type="video/mp4")
        return Route(status=403, body=b"bad signature")

    return answer


@pytest.mark.slow
def test_collect_then_clean_keeps_every_clip_a_browser_plays(tmp_path, capsys):
    posts = []
    with MediaServer() as server:
        everything = {**PLAYABLE, **NOT_PLAYED, REPOST[0]: REPOST[1:]}
        for created, (post_id, (title, make)) in enumerate(everything.items()):
            body = _bytes(make)
            if post_id == "c9":
                server.add("/abc.gif", host="preview.redd.it", handler=_preview(body))
                url = "https://preview.redd.it/abc.gif?format=mp4&amp;s=SIG"
            else:
                server.add(f"/{post_id}.gif", body, host="gifs.example.com")
                url = f"https://gifs.example.com/{post_id}.gif"
            posts.append(
                {
                    "id": post_id,
                    "title": title,
                    "subreddit": "reactiongifs",
                    "url": url,
                    "created_utc": 1300000000 + created,
                    "score": 10,
                }
            )
        dump = tmp_path / "RS_2011-01.bz2"
        dump.write_bytes(bz2.compress("".join(json.dumps(p) + "\n" for p in posts).encode()))
        collection = tmp_path / "collection"
        argv = ["collect", "--dump", str(dump), "--out", str(collection), "--allow-private"]
        argv += ["--no-ytdlp", "--no-progress", "--retries", "0"]
        for host in ("gifs.example.com", "preview.redd.it"):
            argv += ["--host-map", f"{host}={server.base_url}"]
        assert main(argv) == 0
    collected = json.loads((collection / "report.json").read_text())
    assert collected["sources"]["dumps"]["posts"] == len(posts)
    with sqlite3.connect(collection / STATE_FILE) as conn:
        outcomes = dict(conn.execute("SELECT post_id, status || ': ' || reason FROM downloads"))
    assert "still image" in outcomes["still"] and "corrupt" in outcomes["broken"]
    assert "still WebP image" in outcomes["still-webp"]

    out = tmp_path / "clean"
    assert main(["clean", str(collection), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    kept = [json.loads(line)["id"] for line in (out / "kept.jsonl").read_text().splitlines()]
    assert sorted(kept) == sorted(PLAYABLE)
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert [(d["id"], d["reason"], d.get("duplicate_of")) for d in dropped] == [
        ("repost", "near_duplicate", "plain")
    ]
    assert "near_duplicate" in printed and "corrupt" in printed  # both reports name reasons
    rows = {
        json.loads(line)["id"]: json.loads(line)
        for line in (out / "kept.jsonl").read_text().splitlines()
    }
    assert rows["c1"]["duration_s"] == pytest.approx(1.6) and rows["c1"]["num_frames"] == 16
    assert rows["c2"]["num_frames"] == 6 and rows["c3"]["num_frames"] == 15
    assert (rows["c4"]["width"], rows["c4"]["height"]) == (96, 72)
    assert rows["c6"]["num_frames"] == 5
