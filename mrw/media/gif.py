"""A GIF's images and their timing as a browser shows them, read from its blocks.

FFmpeg and browsers disagree on GIFs in ways that lose real clips, so the block structure is
walked here (no pixel is decoded) and FFmpeg is given a cleaned copy:

- **Timing.** A frame whose delay is 0 or 1 centisecond (10 ms or less) is shown for 100 ms
  (Chromium, Firefox, Safari); FFmpeg keeps the stored delay.
- **End of the animation.** Browsers end at the trailer and ignore blocks after the last
  image (a comment, a graphic control block with no image after it); a byte where a block
  should start that is not a block introducer ends the image data too (Chromium and Firefox
  treat the file as correctly terminated there). FFmpeg counts a trailing block as a frame
  that then fails to decode. The cleaned copy ends right after the last image.
- **Sub-rectangles.** An image partly outside the logical screen is clipped to the screen
  (as Chromium and FFmpeg draw it; Pillow grows the canvas instead). An image entirely
  outside draws nothing: it is left out and its delay extends the frame before it.
- **Truncation.** Image data cut off before its terminator is an error (a cut download); a
  missing trailer byte alone is accepted, as browsers do.
"""

from __future__ import annotations

from dataclasses import dataclass

from mrw.media.limits import DecodeLimits, FrameDecodeError, browser_delay_s

TRAILER, EXTENSION, IMAGE = 0x3B, 0x21, 0x2C
GRAPHIC_CONTROL = 0xF9


@dataclass(frozen=True)
class GifLayout:
    """What the blocks say: the logical screen, each shown image's delay, the cleaned bytes."""

    width: int
    height: int
    delays_s: tuple[float, ...]  # browser timing, one per image that draws something
    clean: bytes  # header + the shown images' blocks + trailer: what FFmpeg decodes

    @property
    def duration_s(self) -> float:
        """Playback length in seconds: the sum of the browser delays."""
        return sum(self.delays_s)


def _u16(data: bytes, pos: int) -> int:
    return int.from_bytes(data[pos : pos + 2], "little")


def _skip_sub_blocks(data: bytes, pos: int) -> int | None:
    """Position after the sub-block chain starting at `pos`, or None when it is cut off."""
    end = len(data)
    while pos < end:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos if pos <= end else None
    return None


def _colour_table_size(flags: int) -> int:
    return 3 << ((flags & 7) + 1) if flags & 0x80 else 0


def read_gif(data: bytes, limits: DecodeLimits) -> GifLayout:
    """Walk the blocks of a GIF: its shown images with browser delays, and a cleaned copy.

    Args:
        data: the whole file.
        limits: frame size, count and total canvas work are checked as blocks are read,
            before any pixel is decoded.

    Returns:
        A `GifLayout` (see the module docstring for the browser rules it follows).

    Raises:
        FrameDecodeError: bad header, image data cut off, no image, or over a limit.
    """
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise FrameDecodeError("corrupt GIF: bad header")
    width, height = _u16(data, 6), _u16(data, 8)
    if width == 0 or height == 0:
        raise FrameDecodeError(f"invalid GIF screen size {width}x{height}")
    limits.check_frame_size(width, height)
    header_end = 13 + _colour_table_size(data[10])
    pos = header_end
    delays: list[float] = []
    kept: list[bytes] = []
    pending_start = pos  # extension blocks since the last image belong to the next one
    delay_s = 0.0
    stop = "the end of the file"
    while pos < len(data):
        block = data[pos]
        if block == TRAILER:
            stop = "the trailer"
            break
        if block == EXTENSION:
            if pos + 1 < len(data) and data[pos + 1] == GRAPHIC_CONTROL and pos + 6 <= len(data):
                delay_s = _u16(data, pos + 4) / 100
            after = _skip_sub_blocks(data, pos + 2)
            if after is None:  # a cut-off block after the last image: browsers ignore it
                stop = f"an extension block cut off at byte {pos}"
                break
            pos = after
            continue
        if block != IMAGE:
            stop = f"byte 0x{block:02x} at {pos}, not a block"
            break
        if pos + 10 > len(data):
            raise FrameDecodeError(f"truncated GIF: image {len(delays) + 1} descriptor is cut off")
        left, top, w, h = (_u16(data, pos + k) for k in (1, 3, 5, 7))
        limits.check_frame_size(w, h)
        after = _skip_sub_blocks(data, pos + 10 + _colour_table_size(data[pos + 9]) + 1)
        if after is None:
            raise FrameDecodeError(
                f"truncated GIF: image {len(delays) + 1} ends before its data does"
            )
        if w and h and left < width and top < height:
            kept.append(data[pending_start:after])
            delays.append(browser_delay_s(delay_s))
            limits.check_frames(len(delays), width, height)
        elif delays:  # draws nothing: the previous frame stays on screen
            delays[-1] += browser_delay_s(delay_s)
        pos = pending_start = after
        delay_s = 0.0
    if not delays:
        raise FrameDecodeError(f"no frames: the GIF holds no image before {stop}")
    clean = data[:header_end] + b"".join(kept) + bytes([TRAILER])
    return GifLayout(width, height, tuple(delays), clean)
