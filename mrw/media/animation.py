"""Animated WebP and APNG: frame timing read from their chunks as browsers read it.

APNG is decoded by PyAV, but FFmpeg's demuxer replaces a frame delay of 0 with 1/15 s where
browsers show 100 ms, so the delays are read from the `fcTL` chunks here (W3C PNG spec,
"fcTL": delay_num / delay_den seconds, a denominator of 0 meaning 100).

FFmpeg (and so PyAV) reads only still WebP images; browsers play animated ones. The WebP
container is simple (RIFF `WEBP`: a `VP8X` chunk with the canvas size, then one `ANMF`
chunk per frame with its duration in milliseconds, see Google's "WebP Container
Specification"), so the timeline and the limits are checked from the chunks before any
pixel is decoded; Pillow then composites the frames onto the canvas as browsers do.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mrw.media.limits import DecodeLimits, FrameDecodeError, browser_delay_s


@dataclass(frozen=True)
class WebpLayout:
    """What an animated WebP's chunks say: canvas size and each frame's browser delay."""

    width: int
    height: int
    delays_s: tuple[float, ...]  # browser timing, one per frame

    @property
    def duration_s(self) -> float:
        """Playback length in seconds: the sum of the browser delays."""
        return sum(self.delays_s)


def is_webp(data: bytes) -> bool:
    """Whether `data` starts with a RIFF header of form type `WEBP`."""
    return data[:4] == b"RIFF" and data[8:12] == b"WEBP"


def _u24(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 3], "little")


def read_webp(data: bytes, limits: DecodeLimits) -> WebpLayout:
    """Canvas size and browser frame delays of a WebP file, from its chunks alone.

    Raises:
        FrameDecodeError: not an animated WebP (a still image), chunks cut off, over a limit.
    """
    width = height = 0
    delays: list[float] = []
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        body = pos + 8
        if body + size > len(data):
            raise FrameDecodeError(f"truncated WebP: chunk {kind!r} at byte {pos} is cut off")
        if kind == b"VP8X" and size >= 10:
            width, height = _u24(data, body + 4) + 1, _u24(data, body + 7) + 1
            limits.check_frame_size(width, height)
        elif kind == b"ANMF" and size >= 16:
            delays.append(browser_delay_s(_u24(data, body + 12) / 1000))
            limits.check_frames(len(delays), width, height)
        pos = body + size + (size & 1)  # chunks are padded to an even size
    if not delays:
        raise FrameDecodeError("still image: one frame only, a still WebP image, not a video")
    return WebpLayout(width, height, tuple(delays))


def apng_delays(data: bytes) -> list[float] | None:
    """Browser delays (seconds) of an APNG's frames from its `fcTL` chunks; None if not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    delays: list[float] = []
    pos = 8
    while pos + 8 <= len(data):
        size, kind = int.from_bytes(data[pos : pos + 4], "big"), data[pos + 4 : pos + 8]
        if kind == b"fcTL" and size >= 26 and pos + 8 + 26 <= len(data):
            numerator = int.from_bytes(data[pos + 28 : pos + 30], "big")
            denominator = int.from_bytes(data[pos + 30 : pos + 32], "big") or 100
            delays.append(browser_delay_s(numerator / denominator))
        if kind == b"IEND":
            break
        pos += 12 + size
    return delays


def iter_webp_frames(data: bytes, wanted: set[int]) -> Iterator[tuple[int, np.ndarray]]:
    """(index, RGB `[H, W, 3]` uint8) of the frames in `wanted`, in order, via Pillow.

    Raises:
        FrameDecodeError: Pillow cannot decode a frame.
    """
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            for index in sorted(wanted):
                image.seek(index)
                yield index, np.asarray(image.convert("RGB"))
    except (OSError, ValueError, EOFError) as exc:
        raise FrameDecodeError(f"corrupt WebP ({exc})") from None
