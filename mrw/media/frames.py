"""Decode GIF / MP4 / WebM / APNG / animated WebP clips into frame tensors, as a browser shows them.

Sampling follows presentation timestamps, not frame indices: a GIF's frames can each have
their own delay, so "8 fps" means "what the viewer sees every 125 ms". A clip is first
resampled onto a regular `fps` timeline (each tick shows the last frame whose timestamp is at
or before it), then `num_frames` ticks are picked: evenly spread (`uniform`, evaluation) or a
random contiguous window (`random`, training). Clips shorter than `num_frames` ticks repeat
their last frame.

What counts as "the clip" is what a browser or player shows (docs/dataset.md, "Decoding
rules"): GIF timing and block structure as browsers read them (`mrw.media.gif`,
`mrw.media.animation`), an MP4's edit list (lead-in frames it hides are not frames of the clip)
and its display matrix (frames are rotated as players rotate them). `probe`, the dataset
row's `num_frames` and `decode` agree on every input.

The timeline is read before any pixel is decoded (GIF/WebP blocks, or demuxed packets), so
the limits reject decompression bombs first. It is the one reader of a clip: `probe`,
`verify` and `decode` all start from it (a GIF's frames are its packets, one per image), so
they cannot count different frames. Then only what the selected frames need is decoded (a
video from the keyframe before the first, unreferenced frames between skipped) and only they
are converted to RGB. Whatever a decoder raises on bad bytes leaves as `FrameDecodeError`
(`_decoding`). Everything runs in-process with PyAV (its bundled FFmpeg); animated WebP,
which FFmpeg cannot decode, goes through Pillow.
"""

from __future__ import annotations

import bisect
import contextlib
import io
import itertools
import math
import os
import random
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch
from av.video.reformatter import VideoReformatter

from mrw.media.animation import apng_delays, is_webp, iter_webp_frames, read_webp
from mrw.media.gif import GifLayout, read_gif
from mrw.media.limits import (
    DEFAULT_LIMITS,
    DecodeLimits,
    FrameDecodeError,
)

__all__ = [
    "DEFAULT_LIMITS",
    "Clip",
    "DecodeLimits",
    "FrameDecodeError",
    "VideoInfo",
    "decode",
    "probe",
    "verify",
]

Source = str | os.PathLike[str] | bytes | bytearray | memoryview
Sampling = Literal["uniform", "random"]
# Animated image formats whose frame delays are read as browsers read them (`mrw.media.animation`).
_BROWSER_TIMED_CODECS = ("apng",)


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` reports: the clip as shown (after edit list and rotation), not resampled."""

    num_frames: int
    fps: float  # average frame rate: num_frames / duration_s
    duration_s: float
    width: int
    height: int
    codec: str


@dataclass(frozen=True)
class Clip:
    """Decoded frames: `frames` uint8 `[T, 3, H, W]`, `timestamps` float64 `[T]` in seconds."""

    frames: torch.Tensor
    timestamps: torch.Tensor
    info: VideoInfo


@dataclass(frozen=True)
class _Timeline:
    """Presentation times (seconds from the first frame) of every frame, in display order.

    `pts` maps decoded PyAV frames to their index; None for formats decoded in order
    (GIF, WebP), where the k-th decoded frame is frame k.
    """

    times: list[float]
    pts: list[int | None] | None
    duration_s: float
    info: VideoInfo
    kind: Literal["av", "gif", "webp"]
    data: bytes  # the file
    gif: GifLayout | None = None  # a GIF's packets, one per frame
    # A video's packets in decode order, edit-list-hidden ones included: (pts, keyframe).
    decode_order: list[tuple[int | None, bool]] | None = None


def _read(source: Source, limits: DecodeLimits) -> tuple[bytes, str]:
    """The clip's bytes and a label for messages; the size limit is checked before reading."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data, label = bytes(source), "<bytes>"
    else:
        path = Path(source)
        try:
            if path.stat().st_size > limits.max_bytes:
                raise FrameDecodeError(
                    f"{path}: too large: {path.stat().st_size} bytes (limit {limits.max_bytes})"
                )
            data, label = path.read_bytes(), str(path)
        except OSError as exc:
            raise FrameDecodeError(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:
        raise FrameDecodeError(f"{label}: too large: {len(data)} bytes (limit {limits.max_bytes})")
    if not data:
        raise FrameDecodeError(f"{label}: empty input (0 bytes)")
    return data, label


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__


# What the decoders (FFmpeg through PyAV, Pillow) raise on bad bytes.
_DECODER_ERRORS = (av.FFmpegError, OSError, ValueError, EOFError, MemoryError)


@contextlib.contextmanager
def _decoding(label: str) -> Iterator[None]:
    """The decode boundary: whatever a decoder raises on bad bytes leaves as one
    `FrameDecodeError` naming the input, with the decoder's reason."""
    prefix = "" if label == "<bytes>" else f"{label}: "
    try:
        yield
    except FrameDecodeError as exc:
        raise FrameDecodeError(f"{prefix}{exc}") from None
    except _DECODER_ERRORS as exc:
        raise FrameDecodeError(f"{prefix}corrupt or truncated input ({_reason(exc)})") from None


def _from_delays(
    delays_s: tuple[float, ...], width: int, height: int, codec: str, limits: DecodeLimits
) -> tuple[list[float], float, VideoInfo]:
    if len(delays_s) == 1:
        raise FrameDecodeError("still image: one frame only, not a video")
    times = [0.0, *itertools.accumulate(delays_s[:-1])]
    duration = sum(delays_s)
    if duration > limits.max_duration_s:
        raise FrameDecodeError(f"too long: {duration:.1f} s (limit {limits.max_duration_s:.0f} s)")
    info = VideoInfo(len(delays_s), len(delays_s) / duration, duration, width, height, codec)
    return times, duration, info


def _open_av(data: bytes) -> av.container.InputContainer:
    try:
        return av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FrameDecodeError(f"not a decodable video ({_reason(exc)})") from None


def _av_timeline(data: bytes, limits: DecodeLimits) -> _Timeline:
    """Timestamps of the packets a player shows: those an edit list discards are left out."""
    with _open_av(data) as container:
        if not container.streams.video:
            raise FrameDecodeError("no video stream in the input")
        stream = container.streams.video[0]
        if stream.codec_context is None:  # FFmpeg knows no decoder for what the header says
            raise FrameDecodeError(
                "the video stream's codec is unknown (its header is cut off or corrupt)"
            )
        width, height = stream.codec_context.width, stream.codec_context.height
        limits.check_frame_size(width, height)
        if width <= 0 or height <= 0:
            raise FrameDecodeError(f"invalid frame size {width}x{height}")
        time_base = float(stream.time_base) if stream.time_base else 0.0
        packets: list[tuple[int | None, float, float]] = []  # (pts, start s, duration s)
        decode_order: list[tuple[int | None, bool]] = []  # every stored packet
        for packet in container.demux(stream):  # demuxer errors: see `_decoding`
            if packet.size == 0:  # the end flush
                continue
            decode_order.append((packet.pts, packet.is_keyframe))
            stored = len(decode_order)
            if packet.is_corrupt:  # the demuxer read less than the index promised
                raise FrameDecodeError(f"truncated input: frame {stored} is cut off")
            if packet.is_discard:  # hidden by an edit list
                continue
            limits.check_frames(len(packets) + 1, width, height)
            pts = packet.pts if packet.pts is not None else packet.dts
            start = pts * time_base if pts is not None else math.nan
            packets.append((pts, start, (packet.duration or 0) * time_base))
        stored = len(decode_order)  # packets in the file, those an edit list hides included
        if stream.frames and stored < stream.frames:  # the index lists more than the file holds
            raise FrameDecodeError(
                f"truncated input: the file holds {stored} of its {stream.frames} frames"
            )
        codec = stream.codec_context.name
        rate = float(stream.average_rate or stream.guessed_rate or 10)
    if not packets:
        raise FrameDecodeError("no frames: the video stream is empty")
    if any(math.isnan(start) for _, start, _ in packets):  # no timestamps: the nominal rate
        packets = [(None, i / rate, 1 / rate) for i in range(len(packets))]
    packets.sort(key=lambda p: p[1])
    chunk_delays = apng_delays(data) if codec in _BROWSER_TIMED_CODECS else None
    if chunk_delays is not None and len(chunk_delays) == len(packets):
        delays = tuple(chunk_delays)
    else:
        starts = [start - packets[0][1] for _, start, _ in packets]
        last = packets[-1][2]
        if last <= 0:  # unknown: assume it lasts as long as the median gap
            gaps = sorted(b - a for a, b in itertools.pairwise(starts))
            last = (gaps[len(gaps) // 2] if gaps else 0) or 0.1
        delays = (*(b - a for a, b in itertools.pairwise(starts)), last)
    times, duration, info = _from_delays(delays, width, height, codec, limits)
    if chunk_delays is None:  # keep the exact stored start times
        times = [start - packets[0][1] for _, start, _ in packets]
    pts = [p[0] for p in packets]
    return _Timeline(times, pts, duration, info, "av", data, None, decode_order)


def _timeline(data: bytes, limits: DecodeLimits) -> _Timeline:
    """The one reader of a clip's frames and their times: `probe`, `verify` and `decode`
    all start here, so they count the same frames."""
    if data[:3] == b"GIF":
        gif = read_gif(data, limits)
        times, duration, info = _from_delays(gif.delays_s, gif.width, gif.height, "gif", limits)
        return _Timeline(times, None, duration, info, "gif", data, gif)
    if is_webp(data):
        webp = read_webp(data, limits)
        times, duration, info = _from_delays(webp.delays_s, webp.width, webp.height, "webp", limits)
        return _Timeline(times, None, duration, info, "webp", data)
    return _av_timeline(data, limits)


def _quarter_turns(frame: av.VideoFrame) -> int:
    """Counter-clockwise quarter turns that show `frame` as players do (its display matrix)."""
    try:
        return round(frame.rotation / 90) % 4
    except (AttributeError, TypeError, ValueError):
        return 0


def _displayed(info: VideoInfo, turns: int) -> VideoInfo:
    return replace(info, width=info.height, height=info.width) if turns % 2 else info


def _iter_decoded(
    timeline: _Timeline, wanted: set[int] | None
) -> Iterator[tuple[int, av.VideoFrame | np.ndarray]]:
    """(index, frame) of the frames in `wanted` (every frame when None), in display order.

    Raises `FrameDecodeError` when the decoder fails or delivers fewer frames than the
    timeline promised (then the data of a frame the file holds in full is corrupt).
    """
    count = timeline.info.num_frames
    todo = set(range(count)) if wanted is None else set(wanted)
    if timeline.kind == "webp":
        yield from iter_webp_frames(timeline.data, todo)
        return
    if timeline.gif is not None:
        yield from _iter_gif(timeline.gif, todo)
        return
    index_of_pts = {pts: i for i, pts in enumerate(timeline.pts or []) if pts is not None}
    if wanted is not None and timeline.pts is not None and len(index_of_pts) == count:
        yield from _iter_selected(timeline, todo, index_of_pts)
        return
    with _open_av(timeline.data) as container:  # decoder errors: see `_decoding`
        for ordinal, frame in enumerate(container.decode(video=0)):
            index = ordinal if timeline.pts is None else index_of_pts.get(frame.pts, ordinal)
            if index in todo:
                todo.discard(index)
                yield index, frame
            if not todo:
                return
    raise _no_picture(todo, count)


def _no_picture(todo: set[int], count: int) -> FrameDecodeError:
    """The decoder ended without the frames in `todo`: their data is corrupt."""
    return FrameDecodeError(f"corrupt input: frame {min(todo)} of {count} gave no picture")


def _start_packet(decode_order: list[tuple[int | None, bool]], wanted_pts: set[int]) -> int:
    """Where decoding the `wanted_pts` frames can start: the last keyframe (a sync sample,
    from which the container promises every later frame decodes) that no wanted frame
    precedes, in decode or display order; 0 when there is none."""
    first = min(i for i, (pts, _) in enumerate(decode_order) if pts in wanted_pts)
    earliest = min(wanted_pts)
    starts = [
        i
        for i, (pts, keyframe) in enumerate(decode_order[: first + 1])
        if keyframe and pts is not None and pts <= earliest
    ]
    return max(starts, default=0)


def _iter_selected(
    timeline: _Timeline, todo: set[int], index_of_pts: dict[int | None, int]
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(index, frame) of the video frames in `todo`, decoding only what they need.

    The frames a codec must decode for them: from the last keyframe before the first one
    (earlier packets are not sent), up to the last one (then decoding stops), and of the
    frames between, those that other frames reference (`skip_frame = NONREF` for a packet
    whose frame is not wanted: a frame no other frame references cannot change the wanted
    ones, so they come out byte-identical to a full decode).
    """
    assert timeline.pts is not None and timeline.decode_order is not None
    count = timeline.info.num_frames
    wanted_pts = {timeline.pts[i] for i in todo}
    start = _start_packet(timeline.decode_order, {p for p in wanted_pts if p is not None})
    with _open_av(timeline.data) as container:  # decoder errors: see `_decoding`
        stream = container.streams.video[0]
        decoder = stream.codec_context
        position = -1
        for packet in container.demux(stream):
            if packet.size:
                position += 1
                if position < start:
                    continue
                decoder.skip_frame = "DEFAULT" if packet.pts in wanted_pts else "NONREF"
            for frame in decoder.decode(packet):
                index = index_of_pts.get(frame.pts)
                if index in todo:
                    todo.discard(index)
                    yield index, frame
                if not todo:
                    return
    raise _no_picture(todo, count)


def _iter_gif(gif: GifLayout, todo: set[int]) -> Iterator[tuple[int, av.VideoFrame | np.ndarray]]:
    """(index, frame) of the GIF frames in `todo`: FFmpeg's GIF decoder, one packet a frame.

    Frames are composited in order, so every frame up to the last wanted one is decoded.
    A frame is cropped to the canvas when the decoder's screen is larger (`mrw.media.gif`).
    """
    decoder = av.CodecContext.create("gif", "r")
    crop = (gif.decode_width, gif.decode_height) != (gif.width, gif.height)
    count = len(gif.packets)
    for index, packet in enumerate(gif.packets[: max(todo, default=-1) + 1]):
        try:
            frames = decoder.decode(av.Packet(packet))
        except av.FFmpegError as exc:
            raise FrameDecodeError(
                f"corrupt GIF: image {index + 1} of {count} does not decode ({_reason(exc)})"
            ) from None
        if len(frames) != 1:
            raise FrameDecodeError(f"corrupt GIF: image {index + 1} of {count} gave no picture")
        if index in todo:
            frame = frames[0]
            if crop:
                frame = frame.to_ndarray(format="rgb24")[: gif.height, : gif.width]
            yield index, frame


def probe(source: Source, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Frame count, average fps, duration, displayed size and codec of a clip.

    Reads the timeline without decoding pixels (a video's first frame is decoded for its
    rotation). `verify` also decodes every frame.

    Args:
        source: a path or the file's bytes (GIF, MP4, WebM, APNG, animated WebP, ...).
        limits: size, frame count, duration and total work limits, checked first.

    Returns:
        `VideoInfo` of the clip as shown: frames an edit list hides are not counted, GIF
        delays follow browsers, width/height are after rotation.

    Raises:
        FrameDecodeError: unreadable, corrupt, still, empty or over-limit input.
    """
    data, label = _read(source, limits)
    with _decoding(label):
        timeline = _timeline(data, limits)
        if timeline.kind != "av":
            return timeline.info
        for _, frame in _iter_decoded(timeline, {0}):
            return _displayed(timeline.info, _quarter_turns(frame))
    raise AssertionError("_iter_decoded yields frame 0 or raises")


def verify(source: Source, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """`probe`, then decode every frame once (no colour conversion): what admission runs.

    Raises:
        FrameDecodeError: as `probe`, or a frame that does not decode (the reason says which).
    """
    data, label = _read(source, limits)
    turns = 0
    with _decoding(label):
        timeline = _timeline(data, limits)
        for index, frame in _iter_decoded(timeline, None):
            if index == 0 and isinstance(frame, av.VideoFrame):
                turns = _quarter_turns(frame)
    return _displayed(timeline.info, turns)


def _ticks(timeline: _Timeline, fps: float | None) -> tuple[list[int], list[float]]:
    """The frame shown at each tick of the resampled timeline, and the tick times."""
    if fps is None:
        return list(range(len(timeline.times))), list(timeline.times)
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    count = max(1, math.ceil(timeline.duration_s * fps - 1e-9))
    ticks = [k / fps for k in range(count)]
    shown = [bisect.bisect_right(timeline.times, t + 1e-9) - 1 for t in ticks]
    return shown, ticks


def _select(count: int, num_frames: int | None, sampling: Sampling, seed: int | None) -> list[int]:
    """Positions (into `count` ticks) of the `num_frames` frames to return (all when None)."""
    if num_frames is None or count == num_frames:
        return list(range(count))
    if count < num_frames:
        return list(range(count)) + [count - 1] * (num_frames - count)
    if sampling == "uniform":  # the centre of each of num_frames equal segments
        return [int((i + 0.5) * count / num_frames) for i in range(num_frames)]
    if sampling == "random":
        start = random.Random(seed).randint(0, count - num_frames)
        return list(range(start, start + num_frames))
    raise ValueError(f"sampling must be 'uniform' or 'random', got {sampling!r}")


def _resized_shape(width: int, height: int, size: int | None) -> tuple[int, int]:
    if size is None:
        return width, height
    scale = size / min(width, height)
    return max(size, round(width * scale)), max(size, round(height * scale))


def _to_rgb(
    frame: av.VideoFrame | np.ndarray, size: int | None, scaler: VideoReformatter
) -> tuple[np.ndarray, int]:
    """RGB `[H, W, 3]` as shown (rotated), shorter side resized to `size`, then centre-cropped
    to a square; and the quarter turns applied. `scaler` is shared by a clip's frames: it keeps
    one swscale context (same output as `frame.reformat`, which sets one up per frame)."""
    if isinstance(frame, np.ndarray):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    turns = _quarter_turns(frame)
    shown_w, shown_h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    width, height = _resized_shape(shown_w, shown_h, size)
    stored_w, stored_h = (height, width) if turns % 2 else (width, height)
    rgb = scaler.reformat(
        frame, width=stored_w, height=stored_h, format="rgb24", interpolation="AREA"
    ).to_ndarray()
    if turns:
        rgb = np.rot90(rgb, turns)
    if size is None:
        return rgb, turns
    top, left = (height - size) // 2, (width - size) // 2
    return rgb[top : top + size, left : left + size], turns


def decode(
    source: Source,
    num_frames: int | None = 8,
    fps: float | None = 8.0,
    size: int | None = None,
    sampling: Sampling = "uniform",
    seed: int | None = None,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Clip:
    """Decode `num_frames` frames of a clip (path or bytes), sampled at `fps`.

    Args:
        source: a path or the file's bytes (GIF, MP4, WebM, APNG, animated WebP, ...).
        num_frames: frames returned (`None`: every tick of the timeline).
        fps: the resampling rate; `None` keeps the clip's own frames, so
            `decode(x, None, None)` returns exactly `probe(x).num_frames` frames.
        size: resize the shorter side to `size` and centre-crop to `size` x `size`.
        sampling: `uniform` (segment centres) or `random` (a contiguous window, `seed`).
        limits: checked on the timeline before any pixel is decoded.

    Returns:
        `Clip` with uint8 frames `[T, 3, H, W]` as a browser/player shows them (GIF timing,
        edit list, rotation applied) and float64 tick times `[T]` in seconds.

    Raises:
        FrameDecodeError: corrupt, truncated, empty, single-frame or over-limit input.
        ValueError: bad `num_frames`, `fps`, `size` or `sampling`.
    """
    if num_frames is not None and num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if size is not None and size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if fps is not None and fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    if sampling not in ("uniform", "random"):
        raise ValueError(f"sampling must be 'uniform' or 'random', got {sampling!r}")
    data, label = _read(source, limits)
    decoded: dict[int, np.ndarray] = {}
    turns = 0
    scaler = VideoReformatter()
    with _decoding(label):
        timeline = _timeline(data, limits)
        shown, ticks = _ticks(timeline, fps)
        chosen = _select(len(ticks), num_frames, sampling, seed)
        for index, frame in _iter_decoded(timeline, {shown[i] for i in chosen}):
            decoded[index], turns = _to_rgb(frame, size, scaler)
    array = np.stack([decoded[shown[i]] for i in chosen])
    return Clip(
        frames=torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(),
        timestamps=torch.tensor([ticks[i] for i in chosen], dtype=torch.float64),
        info=_displayed(timeline.info, turns),
    )
