"""Issue 12, case 11: near-duplicates need a strong signal (pHash and colour, via `imagehash`).

Pairs that must match (the same clip re-encoded, resized, watermarked, a few frames trimmed)
and pairs that must not (flat backgrounds with different content, different scenes).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from mrw.collect.state import iter_collected
from mrw.curate import videohash
from mrw.curate.clean import CleanConfig, clean
from mrw.testing.reposts import FakePost, gif_bytes, make_collection, mp4_bytes, scene


def flat_text_clip(background, ink, text: str, frames: int = 12) -> np.ndarray:
    """`[T, H, W, 3]`: text scrolling over a flat background (the case dHash fails on)."""
    font = ImageFont.load_default(size=28)
    out = []
    for t in range(frames):
        image = Image.new("RGB", (160, 120), background)
        ImageDraw.Draw(image).text((10 + t, 40), f"{text}{t % 10}", fill=ink, font=font)
        out.append(np.asarray(image))
    return np.stack(out)


def watermarked(frames: np.ndarray) -> np.ndarray:
    out = frames.copy()
    for frame in out:
        image = Image.fromarray(frame)
        ImageDraw.Draw(image).text((2, frame.shape[0] - 12), "gifs.example", fill=(255, 255, 255))
        frame[:] = np.asarray(image)
    return out


SCENE = scene(1)
DIGITS = flat_text_clip((255, 255, 255), (0, 0, 0), "12345 ")
ORIGINALS = {"scene": (SCENE, gif_bytes(SCENE)), "digits": (DIGITS, gif_bytes(DIGITS))}
REPOSTS = {
    "re-encoded as MP4": lambda f: mp4_bytes(f),
    "resized": lambda f: mp4_bytes(f, size=(f.shape[2] // 2, f.shape[1] // 2)),
    "watermarked": lambda f: gif_bytes(watermarked(f)),
    "first 2 frames trimmed": lambda f: gif_bytes(f[2:]),
    "last 2 frames trimmed": lambda f: gif_bytes(f[:-2]),
}
DIFFERENT = {
    "blue background, white text": gif_bytes(
        flat_text_clip((30, 60, 200), (255, 255, 255), "hello world")
    ),
    "white background, other text": gif_bytes(
        flat_text_clip((255, 255, 255), (0, 0, 0), "wow such ")
    ),
    "another scene": gif_bytes(scene(2)),
    "a third scene": mp4_bytes(scene(4)),
}


def _hash(data: bytes, tmp_path, name: str) -> np.ndarray:
    path = tmp_path / name
    path.write_bytes(data)
    return videohash.hash_video(path)


def _match(a: np.ndarray, b: np.ndarray) -> bool:
    return videohash.near_duplicate_groups(np.stack([a, b])).tolist() == [0, 0]


@pytest.mark.parametrize("original", list(ORIGINALS))
@pytest.mark.parametrize("repost", list(REPOSTS))
def test_reposts_of_the_same_clip_match(tmp_path, original, repost):
    frames, data = ORIGINALS[original]
    a, b = _hash(data, tmp_path, "a"), _hash(REPOSTS[repost](frames), tmp_path, "b")
    assert _match(a, b), videohash.distances(a, b)


@pytest.mark.parametrize("other", list(DIFFERENT))
def test_different_clips_do_not_match(tmp_path, other):
    digits = _hash(ORIGINALS["digits"][1], tmp_path, "a")
    scene_hash = _hash(ORIGINALS["scene"][1], tmp_path, "b")
    other_hash = _hash(DIFFERENT[other], tmp_path, "c")
    assert not _match(digits, other_hash), videohash.distances(digits, other_hash)
    assert not _match(scene_hash, other_hash), videohash.distances(scene_hash, other_hash)


def test_flat_background_clips_are_both_kept_by_clean(tmp_path):
    posts = [
        FakePost("f1", "MRW the numbers come in", 10, ORIGINALS["digits"][1]),
        FakePost("f2", "MRW my friend says hello", 20, DIFFERENT["blue background, white text"]),
        FakePost("f3", "MRW the numbers come in again", 30, REPOSTS["resized"](DIGITS)),
    ]
    items = list(iter_collected(make_collection(tmp_path / "c", posts)))
    result = clean(items, CleanConfig(workers=1), progress=False)
    assert [r.id for r in result.kept] == ["f1", "f2"]
    [dropped] = result.dropped
    assert (dropped.id, dropped.reason.value, dropped.duplicate_of) == (
        "f3",
        "near_duplicate",
        "f1",
    )
    assert "pHash bits" in dropped.detail and "colour bits" in dropped.detail
