"""The decode error type, the limits every decode is held to, and the browsers' timing rule.

Shared by `mrw.media.frames` (PyAV containers) and the format readers it uses (`mrw.media.gif`,
`mrw.media.animation`), so none of them imports another's internals.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrw.core.errors import MRWError

# Chromium, Firefox and Safari show an animation frame whose delay is 10 ms or less for
# 100 ms (Chromium: `ImageDecoder::FrameDurationAtIndex`, "we follow Firefox's behavior").
BROWSER_MIN_DELAY_S = 0.011
BROWSER_DEFAULT_DELAY_S = 0.1


class FrameDecodeError(MRWError):
    """The clip cannot be decoded into frames; the message says why (corrupt, too large, ...)."""


@dataclass(frozen=True)
class DecodeLimits:
    """Guards against decompression bombs and runaway inputs, all checked before decoding.

    `max_canvas_pixels` caps the total work of a clip: frames x width x height of the
    decoded canvas (a GIF of 200 one-pixel images on a 4096x4096 screen costs as much as
    200 full 4096x4096 frames). The default, 2**31, is e.g. 1,000 frames at 1080p or about
    7,000 at 640x480.
    """

    max_bytes: int = 256 * 1024 * 1024
    max_pixels: int = 4096 * 4096  # per frame
    max_frames: int = 20_000
    max_duration_s: float = 15 * 60.0
    max_canvas_pixels: int = 2**31  # frames x width x height, the whole clip

    def check_frame_size(self, width: int, height: int) -> None:
        """Raises `FrameDecodeError` when one `width` x `height` frame is over `max_pixels`."""
        if width * height > self.max_pixels:
            raise FrameDecodeError(
                f"frame too large: {width}x{height} = {width * height} pixels "
                f"(limit {self.max_pixels})"
            )

    def check_frames(self, frames: int, width: int, height: int) -> None:
        """Raises `FrameDecodeError` when `frames` frames of `width` x `height` are over the
        frame count or the total canvas work limit."""
        if frames > self.max_frames:
            raise FrameDecodeError(f"too many frames: more than {self.max_frames}")
        work = frames * width * height
        if work > self.max_canvas_pixels:
            raise FrameDecodeError(
                f"too much decoding work: {frames} frames of {width}x{height} = {work} canvas "
                f"pixels (limit {self.max_canvas_pixels})"
            )


DEFAULT_LIMITS = DecodeLimits()


def browser_delay_s(delay_s: float) -> float:
    """The time a browser shows an animation frame with stored delay `delay_s` (seconds)."""
    return BROWSER_DEFAULT_DELAY_S if delay_s < BROWSER_MIN_DELAY_S else delay_s
