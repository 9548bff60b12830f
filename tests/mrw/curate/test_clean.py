"""`mrw clean`: title normalisation, filters, exact and near-duplicate dedup, reasons, report."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from mrw.cli import main
from mrw.collect.records import CollectedItem, Post
from mrw.curate import videohash
from mrw.curate.clean import (
    CleanConfig,
    Reason,
    clean,
    looks_english,
    normalize_title,
    read_kept,
    strip_reaction_prefix,
)
from mrw.testing.media import corrupt_gif
from mrw.testing.reposts import FakePost, gif_bytes, make_collection, mp4_bytes, scene


def test_titles_are_unescaped_nfc_and_whitespace_collapsed() -> None:
    # Reddit's API escapes titles, sometimes twice; decomposed accents become composed (NFC).
    raw = "MRW  my boss says &amp;amp; \u201cyou&#39;re\u201d\tfired\u00a0at caf\u0065\u0301"
    assert normalize_title(raw) == "MRW my boss says & \u201cyou're\u201d fired at caf\u00e9"


@pytest.mark.parametrize(
    ("title", "stripped"),
    [
        ("MRW my code compiles", "my code compiles"),
        ("mfw: the bus leaves early", "the bus leaves early"),
        ("My reaction when the pizza arrives", "the pizza arrives"),
        ("[OC] MRWH I see a spider", "I see a spider"),
        ("HMRW someone spoils the ending", "someone spoils the ending"),
        ("Me when the alarm rings", "the alarm rings"),
        ("The cat knocks the glass over", "The cat knocks the glass over"),  # no prefix
        ("MRWhat is this", "MRWhat is this"),  # a word that merely starts like one
    ],
)
def test_reaction_prefix_is_stripped_only_on_request(title: str, stripped: str) -> None:
    assert strip_reaction_prefix(title) == stripped
    assert normalize_title(title) == title
    assert normalize_title(title, strip_prefix=True) == stripped


def test_language_heuristic() -> None:
    assert looks_english("MRW my friend finally pays me back")
    assert looks_english("MFW pizza")  # too short to judge: kept
    assert not looks_english("MRW мой друг наконец вернул долг")
    assert not looks_english("MRW mi amigo finalmente paga su deuda conmigo")


def _item(tmp: Path, post_id: str, title: str, created: int, media: bytes) -> CollectedItem:
    import hashlib

    path = tmp / f"{post_id}.bin"
    path.write_bytes(media)
    post = Post(
        id=post_id,
        title=title,
        subreddit="reactiongifs",
        permalink=f"/r/reactiongifs/comments/{post_id}/x/",
        url=f"https://i.example.com/{post_id}",
        created_utc=created,
    )
    return CollectedItem(
        post=post,
        media_url=post.url,
        media_path=path,
        sha256=hashlib.sha256(media).hexdigest(),
        content_type="image/gif",
        size=len(media),
    )


@pytest.fixture(scope="module")
def clips() -> dict[str, bytes]:
    original = scene(1)
    return {
        "original": gif_bytes(original),
        "resized": gif_bytes(original, size=(160, 120)),  # a repost at another size
        "reencoded": mp4_bytes(original, size=(128, 96)),  # ... and as an MP4
        "other1": gif_bytes(scene(2)),
        "other2": mp4_bytes(scene(3)),
        "other3": gif_bytes(scene(4)),
        "two_frames": gif_bytes(scene(5, frames=2)),
    }


@pytest.fixture()
def items(tmp_path: Path, clips: dict[str, bytes]) -> list[CollectedItem]:
    spec = [
        ("a1", "MRW my code compiles on the first try", 100, clips["original"]),
        ("a2", "MFW the build is green again", 200, clips["resized"]),
        ("a3", "MRW the tests pass locally", 300, clips["reencoded"]),
        ("a4", "MRW someone reposts my gif", 400, clips["original"]),  # byte-identical
        ("b1", "MRW the coffee machine is fixed", 150, clips["other1"]),
        ("c1", "MRW I find money in my jacket", 160, clips["other2"]),
        ("d1", "MRW мой друг наконец вернул долг", 170, clips["other3"]),
        ("e1", "MRW", 180, clips["other3"]),
        ("f1", "MRW my gif is broken", 190, corrupt_gif(9)),
        ("g1", "MRW the clip is way too short", 195, clips["two_frames"]),
    ]
    return [_item(tmp_path, *row) for row in spec]


def test_every_item_is_kept_or_dropped_with_its_reason(items: list[CollectedItem]) -> None:
    result = clean(items, CleanConfig(workers=2), progress=False)
    dropped = {d.id: d for d in result.dropped}
    assert sorted(r.id for r in result.kept) == ["a1", "b1", "c1"]
    assert {k: (d.reason, d.duplicate_of) for k, d in dropped.items()} == {
        "a2": (Reason.NEAR_DUPLICATE, "a1"),
        "a3": (Reason.NEAR_DUPLICATE, "a1"),
        "a4": (Reason.DUPLICATE_SHA256, "a1"),
        "d1": (Reason.NOT_ENGLISH, None),
        "e1": (Reason.TITLE_TOO_SHORT, None),
        "f1": (Reason.DECODE_FAILED, None),
        "g1": (Reason.TOO_FEW_FRAMES, None),
    }
    assert len(result.kept) + len(result.dropped) == len(items)
    report = result.report()
    assert report["dropped_by_reason"] == {
        "decode_failed": 1,
        "duplicate_sha256": 1,
        "near_duplicate": 2,
        "not_english": 1,
        "title_too_short": 1,
        "too_few_frames": 1,
    }
    kept = {r.id: r for r in result.kept}
    assert kept["a1"].sentence == "MRW my code compiles on the first try"  # prefix kept by default
    assert kept["c1"].num_frames == 16 and kept["c1"].width == 96 and kept["c1"].fps > 0
    assert kept["a1"].post_url == "https://www.reddit.com/r/reactiongifs/comments/a1/x/"


def test_result_does_not_depend_on_input_order(items: list[CollectedItem]) -> None:
    config = CleanConfig(workers=1)
    first = clean(items, config, progress=False)
    shuffled = items[:]
    random.Random(3).shuffle(shuffled)
    second = clean(shuffled, config, progress=False)
    assert [r.to_json() for r in first.kept] == [r.to_json() for r in second.kept]
    assert [d.to_json() for d in first.dropped] == [d.to_json() for d in second.dropped]


def test_keeping_near_duplicates_groups_them(items: list[CollectedItem]) -> None:
    result = clean(items, CleanConfig(drop_near_duplicates=False, workers=1), progress=False)
    groups = {r.id: r.group for r in result.kept}
    assert groups["a1"] == groups["a2"] == groups["a3"] == "a1"
    assert groups["b1"] == "b1" and groups["c1"] == "c1"
    assert result.report()["near_duplicate_groups"] == 3


def test_reposts_are_near_and_distinct_clips_far(clips: dict[str, bytes], tmp_path: Path) -> None:
    hashes = {}
    for name, data in clips.items():
        (tmp_path / name).write_bytes(data)
        if name != "two_frames":
            hashes[name] = videohash.hash_video(tmp_path / name)
    limit = videohash.DEFAULT_MAX_DISTANCE
    for repost in ("resized", "reencoded"):
        shape, colour = videohash.distances(hashes["original"], hashes[repost])
        assert shape <= limit // 2 and colour <= videohash.DEFAULT_MAX_COLOUR_DISTANCE
    for other in ("other1", "other2", "other3"):
        assert videohash.distances(hashes["original"], hashes[other])[0] > 1.5 * limit
    assert np.array_equal(videohash.from_hex(videohash.to_hex(hashes["other2"])), hashes["other2"])


def test_near_duplicate_chains_form_one_cluster() -> None:
    base = np.array([0x0F0F_0F0F_0F0F_0F0F, 0x1234], dtype=np.uint64)  # one frame: pHash, colour

    def flip(h: np.ndarray, bits: int) -> np.ndarray:  # flip the lowest `bits` pHash bits
        return h ^ np.array([(1 << bits) - 1, 0], dtype=np.uint64)

    hashes = np.stack([base, flip(base, 6), flip(base, 12), ~base])  # 0-1: 6, 1-2: 6, 0-2: 12
    assert videohash.near_duplicate_groups(hashes, max_distance=8).tolist() == [0, 0, 0, 3]
    recoloured = hashes.copy()
    recoloured[1, 1] ^= np.uint64(0xFFFF)  # same structure, other colours: not a repost
    assert videohash.near_duplicate_groups(recoloured, max_distance=8).tolist() == [0, 1, 2, 3]


def test_cli_cleans_a_collection_folder(tmp_path: Path, clips: dict[str, bytes], capsys) -> None:
    posts = [
        FakePost("p1", "MRW  the deploy &amp; the rollback", 10, clips["original"]),
        FakePost("p2", "MRW the deploy works", 20, clips["reencoded"]),
        FakePost("p3", "MFW lunch is free today", 30, clips["other1"]),
    ]
    collection = make_collection(tmp_path / "coll", posts)
    assert main(["clean", str(collection), "--strip-prefix"]) == 0
    out = collection / "clean"
    kept = list(read_kept(out))
    assert [(r.id, r.sentence) for r in kept] == [
        ("p1", "the deploy & the rollback"),
        ("p3", "lunch is free today"),
    ]
    dropped = [json.loads(line) for line in (out / "dropped.jsonl").read_text().splitlines()]
    assert dropped == [
        {
            "id": "p2",
            "reason": "near_duplicate",
            "duplicate_of": "p1",
            "detail": dropped[0]["detail"],
        }
    ]
    report = json.loads((out / "report.json").read_text())
    assert report["kept"] == 2 and report["config"]["strip_prefix"] is True
    assert "near_duplicate" in capsys.readouterr().out


def test_cli_reports_a_missing_collection(tmp_path: Path, capsys) -> None:
    assert main(["clean", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.startswith("error: ")
