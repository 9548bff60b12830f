"""Clips as browsers and players show them (issue 12, cases 1-4 and 6) and the canvas-work limit.

The reference for each right value is what a browser or player shows; where a player is
installed (the `ffmpeg` command line applies edit lists and rotation like players do), the
test also compares against it.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time

import numpy as np
import pytest

from mrw.media.frames import DecodeLimits, FrameDecodeError, decode, probe, verify
from mrw.testing import clips
from mrw.testing.gifs import GifWriter, solid_palette
from mrw.testing.system_tools import needs, skip_reason

PALETTE = solid_palette(10)


def _indices(frames) -> list[int]:
    """Palette index of each solid GIF frame (from its red and green at the centre)."""
    hwc = frames.permute(0, 2, 3, 1).numpy()
    centre = hwc[:, hwc.shape[1] // 2, hwc.shape[2] // 2].astype(int)
    return [int(np.argmin([abs(c[0] - p[0]) + abs(c[1] - p[1]) for p in PALETTE])) for c in centre]


def _player_frames(data: bytes, tmp_path, width: int, height: int) -> np.ndarray:
    """Frames as the ffmpeg command line (a player: edit list and rotation applied) shows them."""
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, np.uint8).reshape(-1, height, width, 3)


needs_player = needs("ffmpeg")


def test_case1_gif_delays_of_one_centisecond_are_shown_for_100_ms():
    data = clips.gif([1] * 10).bytes()
    info = probe(data)
    assert (info.num_frames, info.duration_s) == (10, pytest.approx(1.0))
    clip = decode(data, 8, fps=8)
    assert _indices(clip.frames) == [0, 1, 2, 3, 5, 6, 7, 8]


def test_gif_delay_of_zero_is_100_ms_and_two_centiseconds_stay():
    info = probe(clips.gif([0, 2, 0, 2]).bytes())
    assert info.duration_s == pytest.approx(0.1 + 0.02 + 0.1 + 0.02)


@pytest.mark.parametrize(
    "trailing",
    [
        pytest.param(lambda g: g.comment(), id="comment"),
        pytest.param(lambda g: g.graphic_control(), id="lone-graphic-control"),
        pytest.param(lambda g: g.raw(b"\x00"), id="stray-zero-byte"),
        pytest.param(lambda g: g.raw(b"\x00garbage after the images"), id="stray-bytes"),
    ],
)
def test_case2_blocks_after_the_last_image_are_ignored(trailing):
    data = trailing(clips.gif([10] * 6)).bytes()
    info = probe(data)
    assert (info.num_frames, info.duration_s) == (6, pytest.approx(0.6))
    clip = decode(data, num_frames=None, fps=None)
    assert _indices(clip.frames) == [0, 1, 2, 3, 4, 5]
    assert verify(data) == info


def test_case3_edit_list_hides_the_lead_in(tmp_path):
    data = clips.cut_without_reencoding(clips.mp4(40, fps=10), first_frame=25)
    info = probe(data)
    assert (info.num_frames, info.duration_s) == (15, pytest.approx(1.5))
    clip = decode(data, 8, fps=8)
    shown = [math.floor(t * 10 + 1e-9) + 25 for t in clip.timestamps.tolist()]
    assert clip.frames[:, 1, 24, 32].tolist() == pytest.approx(
        [clips.level(k) for k in shown], abs=2.5
    )
    every = decode(data, num_frames=None, fps=None)
    assert every.frames.shape[0] == 15
    if shutil.which("ffmpeg"):
        player = _player_frames(data, tmp_path, 64, 48)
        assert len(player) == 15
        assert (
            np.abs(player[:, 24, 32, 1].astype(int) - every.frames[:, 1, 24, 32].numpy()).max() < 3
        )


def test_case4_display_matrix_rotates_frames_as_players_do(tmp_path):
    data = clips.mp4(10, size=(48, 64), rotation=-90)  # stored 48x64, shown 64x48
    info = probe(data)
    assert (info.width, info.height) == (64, 48)
    clip = decode(data, 2, fps=None)
    assert clip.frames.shape == (2, 3, 48, 64)
    red = clip.frames[0, 0].float()
    assert red[:, -4:].mean() > 200 and red[:, :-8].mean() < 30  # the top band is on the right
    square = decode(data, 2, fps=None, size=32)
    assert square.frames.shape == (2, 3, 32, 32)
    if shutil.which("ffmpeg"):
        player = _player_frames(data, tmp_path, 64, 48)
        band = clip.frames[0, 0].numpy() > 128  # where the red band is, ours and the player's
        assert (band == (player[0, :, :, 0] > 128)).mean() > 0.98


def test_case6_image_partly_outside_the_screen_is_clipped_not_dropped():
    writer = GifWriter(40, 30, palette=PALETTE)
    writer.image(0, delay_cs=10).image(1, delay_cs=10, rect=(20, 10, 40, 30))
    data = writer.bytes()
    info = probe(data)
    assert (info.num_frames, info.width, info.height) == (2, 40, 30)
    clip = decode(data, num_frames=None, fps=None)
    second = clip.frames[1].permute(1, 2, 0).numpy().astype(int)
    assert _indices(clip.frames[1:2, :, 20:, 30:]) == [1]  # drawn inside the screen
    assert np.abs(second[2, 2] - PALETTE[0]).max() < 3  # frame 0 left where it is not drawn


def test_image_entirely_outside_the_screen_is_a_frame_that_draws_nothing():
    writer = GifWriter(40, 30, palette=PALETTE)
    writer.image(0, delay_cs=10).image(1, delay_cs=20, rect=(50, 40, 4, 4)).image(2, delay_cs=10)
    data = writer.bytes()
    info = probe(data)
    assert (info.num_frames, info.duration_s) == (3, pytest.approx(0.4))
    clip = decode(data, num_frames=None, fps=None)
    assert _indices(clip.frames) == [0, 0, 2]  # the picture stays for the image's delay
    assert clip.timestamps.tolist() == pytest.approx([0, 0.1, 0.3])


def test_case5_frames_without_a_colour_table_are_refused_by_probe_and_verify():
    writer = GifWriter(40, 30, palette=None)  # no colour table anywhere
    data = writer.image(0).image(1).bytes()
    for run in (probe, verify):
        with pytest.raises(FrameDecodeError, match="corrupt GIF: image 1 has no colour table"):
            run(data)
    with pytest.raises(FrameDecodeError, match="corrupt"):
        decode(data)


def _canvas_bomb(frames: int) -> bytes:
    """A 4096x4096 screen of `frames` one-pixel images: a few KB that decode to GBs."""
    writer = GifWriter(4096, 4096, palette=PALETTE[:2])
    for k in range(frames):
        writer.image(k % 2, delay_cs=2, rect=(k, k, 1, 1))
    return writer.bytes()


def test_total_canvas_work_is_refused_before_decoding():
    data = _canvas_bomb(200)
    assert len(data) < 6_000
    for run in (probe, decode, verify):
        started = time.perf_counter()
        with pytest.raises(FrameDecodeError, match="too much decoding work"):
            run(data)
        assert time.perf_counter() - started < 2.0
    small = DecodeLimits(max_canvas_pixels=10 * 40 * 30 - 1)
    with pytest.raises(FrameDecodeError, match="too much decoding work"):
        probe(clips.gif([10] * 10).bytes(), limits=small)
    with pytest.raises(FrameDecodeError, match="too much decoding work"):
        probe(clips.mp4(10), limits=DecodeLimits(max_canvas_pixels=10 * 64 * 48 - 1))
    assert (
        probe(clips.mp4(10), limits=DecodeLimits(max_canvas_pixels=10 * 64 * 48)).num_frames == 10
    )


@pytest.mark.parametrize("kind", ["rotated", "edit-list"])
def test_same_frames_as_plain_datasets_video_decoding(kind):
    """`datasets`' `Video()` decodes with torchcodec, which applies rotation and edit lists:
    `mrw.load_dataset` and `datasets.load_dataset` must show the same row the same way."""
    decoders = pytest.importorskip("torchcodec.decoders")
    if kind == "rotated":
        data = clips.mp4(10, size=(48, 64), rotation=-90)
    else:
        data = clips.cut_without_reencoding(clips.mp4(40), first_frame=25)
    try:
        theirs = decoders.VideoDecoder(data)
        reference = theirs.get_frames_in_range(0, len(theirs)).data
    except (RuntimeError, OSError) as exc:  # no FFmpeg libraries for torchcodec here
        pytest.skip(f"torchcodec cannot decode here ({skip_reason('ffmpeg')}): {exc}")
    ours = decode(data, num_frames=None, fps=None).frames
    assert ours.shape == reference.shape
    assert (ours.float() - reference.float()).abs().mean() < 3
