"""Frame decoding: timestamp-true resampling, sampling modes, resizing, limits and bad input."""

from __future__ import annotations

import math

import av
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mrw.media.frames import DecodeLimits, FrameDecodeError, decode, probe

# Five solid colours with very unequal delays: the timeline is 0, .1, .4, .45, .65 -> end 1.15 s.
REDS = [(0, 0, 0), (60, 0, 0), (120, 0, 0), (180, 0, 0), (240, 0, 0)]
DELAYS_MS = [100, 300, 50, 200, 500]
STARTS_S = [0.0, 0.1, 0.4, 0.45, 0.65]


def _shown_at(t: float) -> int:
    """Index of the frame a viewer sees at time t (the last one started at or before t)."""
    return max(i for i, start in enumerate(STARTS_S) if start <= t + 1e-9)


def _red(clip_frames: torch.Tensor) -> list[int]:
    return clip_frames[:, 0, 0, 0].tolist()


def test_gif_with_unequal_delays_is_sampled_on_its_real_timeline(make_gif):
    data = make_gif(REDS, DELAYS_MS)
    clip = decode(data, num_frames=9, fps=8.0)  # 1.15 s at 8 fps = 10 ticks
    ticks = [k / 8 for k in range(10)]
    chosen = [int((i + 0.5) * 10 / 9) for i in range(9)]
    assert clip.timestamps.tolist() == pytest.approx([ticks[i] for i in chosen])
    expected = [REDS[_shown_at(t)][0] for t in clip.timestamps.tolist()]
    assert _red(clip.frames) == pytest.approx(expected, abs=2)
    # Index-based sampling would have shown frame 2 (50 ms long); the real timeline skips it.
    assert all(abs(red - REDS[2][0]) > 10 for red in _red(clip.frames))


def test_every_tick_at_8fps_shows_the_frame_on_screen(make_gif):
    clip = decode(make_gif(REDS, DELAYS_MS), num_frames=10, fps=8.0)
    assert clip.timestamps.tolist() == pytest.approx([k / 8 for k in range(10)])
    assert _red(clip.frames) == pytest.approx([REDS[_shown_at(k / 8)][0] for k in range(10)], abs=2)


def test_probe_reports_the_stored_clip(make_gif, make_video):
    info = probe(make_gif(REDS, DELAYS_MS))
    assert (info.num_frames, info.width, info.height, info.codec) == (5, 40, 30, "gif")
    assert info.duration_s == pytest.approx(1.15)
    assert info.fps == pytest.approx(5 / 1.15)
    mp4 = probe(make_video(20, fps=10))
    assert (mp4.num_frames, mp4.codec, mp4.width, mp4.height) == (20, "h264", 64, 48)
    assert mp4.duration_s == pytest.approx(2.0)


@pytest.mark.parametrize("fmt", ["mp4", "webm"])
def test_video_containers_decode_uniformly_spread_frames(make_video, fmt):
    clip = decode(make_video(20, fps=10, fmt=fmt), num_frames=4, fps=8.0)
    # 2 s at 8 fps = 16 ticks; uniform picks the centres of 4 equal segments: ticks 2, 6, 10, 14.
    assert clip.timestamps.tolist() == pytest.approx([0.25, 0.75, 1.25, 1.75])
    source_frames = [int(t * 10 + 1e-9) for t in clip.timestamps.tolist()]
    assert clip.frames[:, 1, 24, 32].tolist() == pytest.approx(
        [12 * i for i in source_frames], abs=6
    )
    assert clip.frames.dtype == torch.uint8 and clip.frames.shape == (4, 3, 48, 64)


def test_random_sampling_is_a_contiguous_seeded_window(make_video):
    data = make_video(30, fps=10)  # 3 s -> 24 ticks
    first = decode(data, num_frames=6, sampling="random", seed=3)
    again = decode(data, num_frames=6, sampling="random", seed=3)
    assert torch.equal(first.frames, again.frames)
    steps = torch.diff(first.timestamps)
    assert torch.allclose(steps, torch.full_like(steps, 1 / 8))
    starts = {
        decode(data, num_frames=6, sampling="random", seed=s).timestamps[0].item() for s in range(8)
    }
    assert len(starts) > 1


def test_short_clip_repeats_its_last_frame(make_gif):
    clip = decode(make_gif(REDS[:2], 100), num_frames=6, fps=8.0)  # 0.2 s -> 2 ticks
    assert clip.timestamps.tolist() == pytest.approx([0, 0.125, 0.125, 0.125, 0.125, 0.125])
    assert _red(clip.frames) == pytest.approx([0, 60, 60, 60, 60, 60], abs=2)


def test_native_rate_keeps_every_stored_frame(make_gif):
    clip = decode(make_gif(REDS, DELAYS_MS), num_frames=5, fps=None)
    assert clip.timestamps.tolist() == pytest.approx(STARTS_S)
    assert _red(clip.frames) == pytest.approx([c[0] for c in REDS], abs=2)


def test_resize_shorter_side_then_centre_crop(make_gif, tmp_path):
    from PIL import Image

    # Left third blue, rest green: after resize + centre crop the blue band is cut off.
    frames = []
    for shade in (100, 200):
        image = Image.new("RGB", (90, 30), (0, shade, 0))
        image.paste((0, 0, 255), (0, 0, 30, 30))
        frames.append(image)
    path = tmp_path / "wide.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    clip = decode(path, num_frames=2, fps=10.0, size=16)
    assert clip.frames.shape == (2, 3, 16, 16)
    assert clip.frames[:, 2].max() < 40  # no blue left after the centre crop
    assert clip.frames[:, 1, 8, 8].tolist() == pytest.approx([100, 200], abs=3)


def test_path_and_bytes_give_identical_frames(make_video, tmp_path):
    data = make_video(12, fps=10)
    path = tmp_path / "clip.mp4"
    path.write_bytes(data)
    assert torch.equal(decode(path, num_frames=4).frames, decode(data, num_frames=4).frames)


def _truncated_mp4(make_video) -> bytes:
    data = make_video(30, fps=10, size=(96, 64))
    return data[: len(data) // 2]


@pytest.mark.parametrize(
    "case, match",
    [
        ("corrupt", "corrupt GIF|no frames: the GIF holds no image"),
        ("empty", "empty input"),
        ("truncated_gif", "truncated GIF"),
        ("truncated_mp4", "not a decodable video|truncated"),
        ("zero_frames", "no frames"),
        ("one_frame", "still image"),
    ],
)
def test_bad_input_raises_frame_decode_error_with_reason(case, match, make_gif, make_video):
    gif = make_gif(REDS, DELAYS_MS)
    inputs = {
        "corrupt": b"GIF89a" + bytes(range(256)) * 4,
        "empty": b"",
        "truncated_gif": gif[: len(gif) // 2],
        "truncated_mp4": _truncated_mp4(make_video),
        "zero_frames": gif[:13] + b"\x3b",  # header + logical screen descriptor + trailer
        "one_frame": make_gif(REDS[:1]),
    }
    with pytest.raises(FrameDecodeError, match=match):
        decode(inputs[case])


@pytest.mark.parametrize(
    "limits, match",
    [
        (DecodeLimits(max_pixels=40 * 30 - 1), "frame too large"),
        (DecodeLimits(max_frames=4), "too many frames"),
        (DecodeLimits(max_duration_s=1.0), "too long"),
        (DecodeLimits(max_bytes=100), "too large"),
    ],
)
def test_limits_reject_oversized_input_before_decoding(make_gif, limits, match):
    data = make_gif(REDS, DELAYS_MS)
    with pytest.raises(FrameDecodeError, match=match):
        decode(data, limits=limits)
    with pytest.raises(FrameDecodeError, match=match):
        probe(data, limits=limits)


@pytest.mark.parametrize("screen, image", [(60000, 2), (2, 60000)])
def test_gif_bomb_dimensions_are_refused_without_decoding(screen, image):
    # A few bytes claiming 60000x60000-pixel frames (3.6 gigapixels each).
    header = b"GIF89a" + screen.to_bytes(2, "little") * 2 + b"\x00\x00\x00"
    frame = (
        b"\x2c" + b"\x00\x00" * 2 + image.to_bytes(2, "little") * 2 + b"\x00\x02\x02\x44\x01\x00"
    )
    with pytest.raises(FrameDecodeError, match="frame too large"):
        decode(header + frame * 2 + b"\x3b")


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(FrameDecodeError, match="cannot read"):
        decode(tmp_path / "nope.gif")


def test_decode_errors_are_not_raw_pyav_errors(make_gif):
    gif = make_gif(REDS, DELAYS_MS)
    for cut in range(20, len(gif) - 1, max(1, len(gif) // 25)):
        try:
            decode(gif[:cut], num_frames=4)
        except FrameDecodeError:
            pass
        except av.FFmpegError as exc:  # pragma: no cover - the failure this test exists for
            pytest.fail(f"raw PyAV error for a GIF cut at {cut} bytes: {exc}")


@settings(max_examples=25, deadline=None)
@given(
    delays_cs=st.lists(st.integers(min_value=2, max_value=40), min_size=2, max_size=12),
    fps=st.sampled_from([4.0, 8.0, 12.5]),
)
def test_any_delays_every_tick_shows_the_frame_on_screen(make_gif, delays_cs, fps):
    colours = [(20 * i, 255 - 20 * i, 0) for i in range(len(delays_cs))]
    data = make_gif(colours, [10 * d for d in delays_cs], size=(8, 8))
    starts = [sum(delays_cs[:i]) / 100 for i in range(len(delays_cs))]
    ticks = math.ceil(sum(delays_cs) / 100 * fps - 1e-9)
    clip = decode(data, num_frames=ticks, fps=fps)
    assert clip.timestamps.tolist() == pytest.approx([k / fps for k in range(ticks)])
    for t, frame in zip(clip.timestamps.tolist(), clip.frames, strict=True):
        on_screen = max(i for i, start in enumerate(starts) if start <= t + 1e-9)
        assert frame[0, 4, 4].item() == pytest.approx(colours[on_screen][0], abs=2)
