"""A corpus of generated edge-case clips: the frames `probe` promises are what `decode` delivers.

For every decodable file, `probe(x).num_frames == decode(x, None, fps=None).frames.shape[0]
== verify(x).num_frames`, and both equal the count a browser shows (known by construction);
every other file raises `FrameDecodeError` with a reason, from `probe`, `decode` and `verify`
alike. GIF pixels are also compared with Pillow's rendering (a second, independent GIF
decoder) or, where Pillow departs from browsers (it grows the canvas for any image), with
the canvas a browser draws. The shapes of real files once refused for false reasons are in
`fakes.refused_shapes`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pytest

from mrw.media.frames import FrameDecodeError, decode, probe, verify
from mrw.testing import clips, refused_shapes
from mrw.testing.gifs import GifWriter, solid_palette

PALETTE = solid_palette(8)


@dataclass(frozen=True)
class Case:
    make: Callable[[], bytes]
    frames: int | None = None  # frames a browser/player shows; None: must be refused
    duration_s: float | None = None
    error: str = ""  # regex of the refusal reason
    pillow_pixels: bool = False  # compare every GIF frame with Pillow's rendering
    size: tuple[int, int] | None = None  # (width, height) a browser shows


def _gif(delays_cs: list[int | None], **options) -> GifWriter:
    writer = GifWriter(40, 30, palette=PALETTE)
    for k, delay in enumerate(delays_cs):
        writer.image(k % len(PALETTE), delay_cs=delay, **options)
    return writer


def _pattern(k: int, height: int = 30, width: int = 40) -> np.ndarray:
    """Palette indices with structure (stripes shifted by k): shows row order and offsets."""
    rows = (np.arange(height)[:, None] + np.arange(width)[None, :] // 5 + k) % len(PALETTE)
    return rows.astype(np.uint8)


def _disposal(mode: int) -> bytes:
    writer = GifWriter(40, 30, palette=PALETTE)
    writer.image(_pattern(0), delay_cs=10)
    for k in range(1, 4):
        writer.image(k, delay_cs=10, rect=(4 * k, 3 * k, 12, 9), disposal=mode, transparent=None)
    return writer.bytes()


def _transparent() -> bytes:
    writer = GifWriter(40, 30, palette=PALETTE)
    writer.image(_pattern(0), delay_cs=10)
    holes = _pattern(1)
    holes[::2] = 7  # index 7 is transparent: the frame below shows through
    writer.image(holes, delay_cs=10, transparent=7, disposal=1)
    writer.image(_pattern(2), delay_cs=10, rect=(10, 10, 20, 10), disposal=2)
    return writer.bytes()


def _local_palettes() -> bytes:
    writer = GifWriter(40, 30, palette=None)
    for k in range(4):
        writer.image(_pattern(k) % 4, delay_cs=10, local_palette=solid_palette(8)[k : k + 4])
    return writer.bytes()


def _app_extension_between() -> bytes:
    writer = _gif([10, 10])
    writer.raw(b"\x21\xff\x0bXMP DataXMP\x04abcd\x00")
    return writer.image(2, delay_cs=10).bytes()


def _gif87a() -> bytes:
    return b"GIF87a" + _gif([None, None, None]).bytes()[6:]


def _canvas_bomb() -> bytes:
    writer = GifWriter(4096, 4096, palette=PALETTE[:2])
    for k in range(200):
        writer.image(k % 2, delay_cs=2, rect=(k, k, 1, 1))
    return writer.bytes()


def _truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


VFR_MS = [0, 40, 120, 130, 300, 310, 500, 540, 700, 1000]

CORPUS: dict[str, Case] = {
    # GIF timing: browsers show delays of 0 or 1 cs for 100 ms
    "gif-delays-0": Case(lambda: _gif([0] * 5).bytes(), 5, 0.5, pillow_pixels=True),
    "gif-delays-1": Case(lambda: _gif([1] * 5).bytes(), 5, 0.5),
    "gif-delays-2": Case(lambda: _gif([2] * 5).bytes(), 5, 0.1),
    "gif-delays-mixed": Case(lambda: _gif([0, 1, 2, 3]).bytes(), 4, 0.25),
    "gif-no-graphic-control": Case(lambda: _gif([None] * 3).bytes(), 3, 0.3),
    # compositing
    "gif-disposal-none": Case(lambda: _disposal(1), 4, 0.4, pillow_pixels=True),
    "gif-disposal-background": Case(lambda: _disposal(2), 4, 0.4, pillow_pixels=True),
    "gif-disposal-previous": Case(lambda: _disposal(3), 4, 0.4, pillow_pixels=True),
    "gif-transparency": Case(_transparent, 3, 0.3, pillow_pixels=True),
    "gif-interlaced": Case(
        lambda: (
            GifWriter(40, 30, PALETTE)
            .image(_pattern(0), interlace=True)
            .image(_pattern(3), interlace=True)
            .bytes()
        ),
        2,
        0.2,
        pillow_pixels=True,
    ),
    "gif-local-palettes": Case(_local_palettes, 4, 0.4, pillow_pixels=True),
    "gif-sub-rectangles": Case(
        lambda: _gif([10] * 3, rect=(5, 5, 10, 10)).bytes(), 3, 0.3, pillow_pixels=True
    ),
    "gif-rect-partly-outside": Case(lambda: _gif([10] * 3, rect=(30, 20, 20, 20)).bytes(), 3, 0.3),
    "gif-rect-entirely-outside": Case(
        lambda: _gif([10]).image(1, rect=(41, 0, 5, 5)).image(2).bytes(), 3, 0.3
    ),
    # real files' shapes once refused for false reasons (issue 28): every image a frame,
    # the canvas widened by the first image, later images clipped to it
    "gif-extents-no-graphic-control": Case(refused_shapes.extents_gif, 2, 0.2, size=(100, 100)),
    "gif-frame-out-of-bounds": Case(refused_shapes.frame_out_of_bounds_gif, 5, 0.5, size=(4, 2)),
    "gif-multiple-loop-counts": Case(refused_shapes.multiple_loop_counts_gif, 4, 0.4, size=(2, 2)),
    "gif-bomb-extents": Case(refused_shapes.bomb_extents_gif, 2, 0.2, size=(32, 32)),
    "gif-first-image-widens-zero-screen": Case(
        lambda: GifWriter(0, 0, PALETTE).image(1, rect=(0, 0, 6, 4)).image(2).bytes(),
        2,
        0.2,
        size=(6, 4),
    ),
    # what follows the last image
    "gif-trailing-comment": Case(lambda: _gif([10] * 6).comment().bytes(), 6, 0.6),
    "gif-trailing-graphic-control": Case(lambda: _gif([10] * 6).graphic_control().bytes(), 6, 0.6),
    "gif-trailing-zero-byte": Case(lambda: _gif([10] * 6).raw(b"\x00").bytes(), 6, 0.6),
    "gif-trailing-garbage": Case(lambda: _gif([10] * 3).raw(b"\x00\xffjunk").bytes(), 3, 0.3),
    "gif-no-trailer": Case(lambda: _gif([10] * 3).bytes(trailer=False), 3, 0.3),
    "gif-application-extension-between": Case(_app_extension_between, 3, 0.3),
    "gif87a": Case(_gif87a, 3, 0.3),
    # GIFs that must be refused
    "gif-one-image": Case(lambda: _gif([10]).bytes(), error="still image"),
    "gif-no-image": Case(lambda: GifWriter(40, 30, PALETTE).comment().bytes(), error="no frames"),
    "gif-cut-in-image-data": Case(lambda: _truncated(_gif([10] * 4).bytes()), error="truncated"),
    "gif-no-colour-table": Case(lambda: _gif([10] * 2).bytes()[:13] + b"", error="no frames"),
    "gif-pixels-without-palette": Case(
        lambda: GifWriter(40, 30).image(0).image(1).bytes(), error="corrupt GIF: .* colour table"
    ),
    "gif-canvas-bomb": Case(_canvas_bomb, error="too much decoding work"),
    # MP4 / WebM
    "mp4-plain": Case(lambda: clips.mp4(20), 20, 2.0),
    "mp4-edit-list": Case(
        lambda: clips.cut_without_reencoding(clips.mp4(40), first_frame=25), 15, 1.5
    ),
    "mp4-edit-list-b-frames": Case(
        lambda: clips.cut_without_reencoding(clips.mp4(40, bframes=True), first_frame=13), 27, 2.7
    ),
    "mp4-rotated-90": Case(lambda: clips.mp4(6, size=(48, 64), rotation=-90), 6, 0.6),
    "mp4-rotated-180": Case(lambda: clips.mp4(6, rotation=180), 6, 0.6),
    "mp4-b-frames": Case(lambda: clips.mp4(24, bframes=True), 24, 2.4),
    "mp4-vfr-b-frames": Case(lambda: clips.mp4(10, bframes=True, times_ms=VFR_MS), 10),
    "mp4-cut-in-half": Case(lambda: _truncated(clips.mp4(30)), error="decodable|truncated|corrupt"),
    "mp4-index-first-cut-in-data": Case(refused_shapes.truncated_mp4, error="truncated input"),
    "mp4-index-first-cut-before-codec": Case(
        refused_shapes.mp4_cut_before_codec, error="codec is unknown"
    ),
    "webm-vp9": Case(lambda: clips.mp4(12, codec="libvpx-vp9", fmt="webm"), 12, 1.2),
    # animated images
    "webp-animated": Case(lambda: clips.animated("WEBP", [100, 0, 50, 200]), 4, 0.45),
    "apng": Case(lambda: clips.animated("PNG", [100, 0, 50, 200]), 4, 0.45),
    "webp-still": Case(lambda: clips.animated("WEBP", [100]), error="still"),
    "random-bytes": Case(
        lambda: np.random.default_rng(0).bytes(4000), error="not a decodable video"
    ),
}


def test_the_corpus_is_large_and_covers_both_outcomes():
    decodable = [name for name, case in CORPUS.items() if case.frames is not None]
    assert len(CORPUS) >= 30 and len(decodable) >= 25 and len(CORPUS) - len(decodable) >= 6


def _pillow_frames(data: bytes) -> np.ndarray:
    from PIL import Image, ImageSequence

    with Image.open(io.BytesIO(data)) as image:
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(image)])


@pytest.mark.parametrize("name", list(CORPUS))
def test_probe_promises_what_decode_delivers(name):
    case = CORPUS[name]
    data = case.make()
    if case.frames is None:
        runs = (lambda: probe(data), lambda: decode(data, None, fps=None), lambda: verify(data))
        for run in runs:
            with pytest.raises(FrameDecodeError, match=case.error) as raised:
                run()
            assert str(raised.value).strip()
        return
    info = probe(data)
    clip = decode(data, None, fps=None)
    assert info.num_frames == clip.frames.shape[0] == verify(data).num_frames == case.frames
    assert clip.frames.shape[2:] == (info.height, info.width)
    if case.size is not None:
        assert (info.width, info.height) == case.size
    if case.duration_s is not None:
        assert info.duration_s == pytest.approx(case.duration_s, abs=1e-6)
    if name == "mp4-vfr-b-frames":
        assert clip.timestamps.tolist() == pytest.approx([t / 1000 for t in VFR_MS], abs=1e-3)
    if case.pillow_pixels:
        reference = _pillow_frames(data)
        ours = clip.frames.permute(0, 2, 3, 1).numpy()
        assert ours.shape == reference.shape
        assert np.abs(ours.astype(int) - reference.astype(int)).max() <= 2


def _browser_canvas(images, size, palette) -> np.ndarray:
    """The frames a browser shows for opaque images without disposal: each image drawn on
    the previous frame, clipped to the canvas. `images`: (left, top, width, height, index)."""
    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)
    frames = []
    for left, top, w, h, index in images:
        canvas[top : top + h, left : left + w] = palette[index]  # numpy slicing clips
        frames.append(canvas.copy())
    return np.stack(frames)


@pytest.mark.parametrize(
    ("make", "images", "size"),
    [
        (refused_shapes.extents_gif, [(0, 0, 100, 100, 1), (50, 50, 100, 100, 2)], (100, 100)),
        (refused_shapes.frame_out_of_bounds_gif, refused_shapes.OUT_OF_BOUNDS_IMAGES, (4, 2)),
        (refused_shapes.bomb_extents_gif, [(0, 0, 32, 32, 1), (65535, 65535, 32, 32, 2)], (32, 32)),
    ],
    ids=["extents", "frame-out-of-bounds", "bomb-extents"],
)
def test_images_past_the_canvas_are_clipped_as_browsers_clip_them(make, images, size):
    """Chromium's policy (Wuffs' frame-out-of-bounds.gif notes): the first image widens the
    canvas, later ones are clipped to it, one entirely outside draws nothing but is a frame."""
    ours = decode(make(), None, fps=None).frames.permute(0, 2, 3, 1).numpy()
    expected = _browser_canvas(images, size, np.asarray(PALETTE, np.uint8))
    assert ours.shape == expected.shape
    assert np.array_equal(ours, expected)


def test_every_cut_of_an_mp4_is_refused_with_a_decode_error_only():
    """A download cut anywhere (index first, so the cut can land in the index or the data)
    raises `FrameDecodeError` from probe, verify and decode, never another exception."""
    whole = refused_shapes.faststart_mp4(frames=4)
    reasons = set()
    for length in range(1, len(whole), 5):
        for run in (probe, verify, decode):
            with pytest.raises(FrameDecodeError) as raised:
                run(whole[:length])
        reasons.add(str(raised.value).split(" (")[0].split(":")[0])
    assert {"truncated input", "the video stream's codec is unknown"} <= reasons
