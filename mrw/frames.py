"""Decode GIF / MP4 / WebM clips into fixed-length frame tensors with PyAV (bundled FFmpeg).

Sampling follows presentation timestamps, not frame indices: a GIF's frames can each have
their own delay, so "8 fps" means "what the viewer sees every 125 ms". A clip is first
resampled onto a regular `fps` timeline (each tick shows the last frame whose timestamp is at
or before it), then `num_frames` ticks are picked: evenly spread (`uniform`, evaluation) or a
random contiguous window (`random`, training). Clips shorter than `num_frames` ticks repeat
their last frame.

Decoding happens in two passes: demuxing the packets (cheap, no pixel work) gives every
frame's timestamp and lets the limits reject decompression bombs before any pixel is
decoded; then frames are decoded in order and only the selected ones are converted to RGB.
"""

from __future__ import annotations

import bisect
import io
import itertools
import math
import os
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
import numpy as np
import torch

from mrw.errors import MRWError

Source = str | os.PathLike[str] | bytes | bytearray | memoryview
Sampling = Literal["uniform", "random"]


class FrameDecodeError(MRWError):
    """The clip cannot be decoded into frames; the message says why (corrupt, too large, ...)."""


@dataclass(frozen=True)
class DecodeLimits:
    """Guards against decompression bombs and runaway inputs (all checked before decoding)."""

    max_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 4096 * 4096  # per frame
    max_frames: int = 20_000
    max_duration_s: float = 15 * 60.0

    def check_frame_size(self, width: int, height: int) -> None:
        if width * height > self.max_pixels:
            raise FrameDecodeError(
                f"frame too large: {width}x{height} = {width * height} pixels "
                f"(limit {self.max_pixels})"
            )


DEFAULT_LIMITS = DecodeLimits()


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` reports: the clip as stored (before any resampling)."""

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
    """Presentation times (seconds from the first frame) of every frame, in display order."""

    times: list[float]
    pts: list[int | None]
    duration_s: float
    info: VideoInfo


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


def _open(source: Source, limits: DecodeLimits) -> tuple[av.container.InputContainer, int | None]:
    """Open the container; for GIFs also check their block structure (see `_gif_images`)."""
    data, label = _read(source, limits)
    gif_images = _gif_images(data, limits) if data[:3] == b"GIF" else None
    try:
        return av.open(io.BytesIO(data), mode="r"), gif_images
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise FrameDecodeError(f"{label}: not a decodable video ({_reason(exc)})") from None


def _gif_images(data: bytes, limits: DecodeLimits) -> int:
    """Walk a GIF's blocks: the number of images, refusing bombs and truncated image data.

    FFmpeg decodes a GIF cut inside an image without complaint (the rest of the frame is
    just missing), and reads a header-only GIF as one frame, so both are checked here. A
    missing trailer byte alone is accepted, as browsers do.
    """
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise FrameDecodeError("corrupt GIF: bad header")
    width, height = int.from_bytes(data[6:8], "little"), int.from_bytes(data[8:10], "little")
    limits.check_frame_size(width, height)
    flags = data[10]
    pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    images = 0

    def skip_sub_blocks(pos: int) -> int:
        while pos < len(data):
            size = data[pos]
            pos += 1 + size
            if size == 0:
                return pos
        raise FrameDecodeError(f"truncated GIF: image {images + 1} ends before its data does")

    while pos < len(data):
        block = data[pos]
        if block == 0x3B:  # trailer
            break
        if block == 0x21:  # extension: label byte, then sub-blocks
            pos = skip_sub_blocks(pos + 2)
        elif block == 0x2C:  # image descriptor (10 bytes), local colour table, LZW code size
            if pos + 10 > len(data):
                raise FrameDecodeError(f"truncated GIF: image {images + 1} descriptor is cut off")
            w = int.from_bytes(data[pos + 5 : pos + 7], "little")
            h = int.from_bytes(data[pos + 7 : pos + 9], "little")
            limits.check_frame_size(w, h)
            local = data[pos + 9]
            pos = skip_sub_blocks(pos + 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0) + 1)
            images += 1
            if images > limits.max_frames:
                raise FrameDecodeError(f"too many frames: more than {limits.max_frames}")
        else:
            raise FrameDecodeError(f"corrupt GIF: unknown block 0x{block:02x} at byte {pos}")
    return images


def _reason(exc: BaseException) -> str:
    return " ".join(str(getattr(exc, "strerror", None) or exc).split()) or type(exc).__name__


def _timeline(
    container: av.container.InputContainer, limits: DecodeLimits, gif_images: int | None
) -> _Timeline:
    if not container.streams.video:
        raise FrameDecodeError("no video stream in the input")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    limits.check_frame_size(width, height)
    if width <= 0 or height <= 0:
        raise FrameDecodeError(f"invalid frame size {width}x{height}")
    time_base = float(stream.time_base) if stream.time_base else 0.0
    packets: list[tuple[int | None, float, float]] = []  # (pts, start s, duration s)
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the flush packet at end of stream
                continue
            if len(packets) >= limits.max_frames:
                raise FrameDecodeError(f"too many frames: more than {limits.max_frames}")
            pts = packet.pts if packet.pts is not None else packet.dts
            start = pts * time_base if pts is not None else math.nan
            packets.append((pts, start, (packet.duration or 0) * time_base))
    except av.FFmpegError as exc:
        raise FrameDecodeError(f"corrupt or truncated input ({_reason(exc)})") from None
    frame_count = len(packets) if gif_images is None else min(gif_images, len(packets))
    if frame_count == 0:
        raise FrameDecodeError("no frames: the video stream is empty")
    if frame_count == 1:
        raise FrameDecodeError("one frame only: a still image, not a video")
    if any(math.isnan(start) for _, start, _ in packets):
        # No timestamps at all: fall back to the stream's nominal rate.
        rate = float(stream.average_rate or stream.guessed_rate or 10)
        packets = [(None, i / rate, 1 / rate) for i in range(len(packets))]
    packets.sort(key=lambda p: p[1])
    first = packets[0][1]
    times = [start - first for _, start, _ in packets]
    last_duration = packets[-1][2]
    if last_duration <= 0:  # unknown: assume it lasts as long as the median gap
        gaps = sorted(b - a for a, b in itertools.pairwise(times))
        last_duration = gaps[len(gaps) // 2] or 0.1
    duration = times[-1] + last_duration
    if duration > limits.max_duration_s:
        raise FrameDecodeError(f"too long: {duration:.1f} s (limit {limits.max_duration_s:.0f} s)")
    info = VideoInfo(
        num_frames=len(packets),
        fps=len(packets) / duration,
        duration_s=duration,
        width=width,
        height=height,
        codec=stream.codec_context.name,
    )
    return _Timeline(times=times, pts=[p[0] for p in packets], duration_s=duration, info=info)


def probe(source: Source, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """Frame count, average fps, duration, size and codec, read without decoding pixels."""
    container, gif_images = _open(source, limits)
    with container:
        return _timeline(container, limits, gif_images).info


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


def _select(count: int, num_frames: int, sampling: Sampling, seed: int | None) -> list[int]:
    """Positions (into `count` ticks) of the `num_frames` frames to return."""
    if count <= num_frames:
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


def _to_rgb(frame: av.VideoFrame, width: int, height: int, size: int | None) -> np.ndarray:
    """RGB `[H, W, 3]`: shorter side resized to `size`, then centre-cropped to a square."""
    rgb = frame.reformat(
        width=width, height=height, format="rgb24", interpolation="AREA"
    ).to_ndarray()
    if size is None:
        return rgb
    top, left = (height - size) // 2, (width - size) // 2
    return rgb[top : top + size, left : left + size]


def decode(
    source: Source,
    num_frames: int = 8,
    fps: float | None = 8.0,
    size: int | None = None,
    sampling: Sampling = "uniform",
    seed: int | None = None,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Clip:
    """Decode `num_frames` frames of a GIF/MP4/WebM (path or bytes), sampled at `fps`.

    `fps=None` keeps the clip's own frames (no resampling). `size` resizes the shorter side
    and centre-crops to `size`x`size`. Raises `FrameDecodeError` with the reason for corrupt,
    truncated, empty, single-frame or over-limit input.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if size is not None and size < 1:
        raise ValueError(f"size must be positive, got {size}")
    container, gif_images = _open(source, limits)
    with container:
        timeline = _timeline(container, limits, gif_images)
        shown, ticks = _ticks(timeline, fps)
        chosen = _select(len(ticks), num_frames, sampling, seed)
        wanted = {shown[i] for i in chosen}
        index_of_pts = {pts: i for i, pts in enumerate(timeline.pts) if pts is not None}
        width, height = _resized_shape(timeline.info.width, timeline.info.height, size)
        decoded: dict[int, np.ndarray] = {}
        container.seek(0)
        try:
            for ordinal, frame in enumerate(container.decode(video=0)):
                index = index_of_pts.get(frame.pts, ordinal)
                if index in wanted and index not in decoded:
                    decoded[index] = _to_rgb(frame, width, height, size)
                if len(decoded) == len(wanted):
                    break
        except av.FFmpegError as exc:
            raise FrameDecodeError(f"corrupt or truncated input ({_reason(exc)})") from None
    missing = sorted(wanted - decoded.keys())
    if missing:
        raise FrameDecodeError(
            f"truncated input: frame {missing[0]} of {timeline.info.num_frames} did not decode"
        )
    array = np.stack([decoded[shown[i]] for i in chosen])
    return Clip(
        frames=torch.from_numpy(array).permute(0, 3, 1, 2).contiguous(),
        timestamps=torch.tensor([ticks[i] for i in chosen], dtype=torch.float64),
        info=timeline.info,
    )
