"""A GIF's images and their timing as a browser shows them, read from its blocks.

FFmpeg's GIF demuxer and browsers disagree on GIFs in ways that lose real clips, so the
block structure is walked here (no pixel is decoded) and this walk is the one reader both
`probe` and `decode` use: it cuts the file into one packet per image, which FFmpeg's GIF
decoder turns into exactly one frame each. The demuxer is never used (it merges images
that have no graphic control block before them into one packet, so their frames are lost).

- **Frames.** Every image is a frame, as in browsers (Chromium's Wuffs decoder, Firefox),
  even one that draws nothing (zero size, or entirely outside the canvas): the picture
  stays on screen for that image's delay.
- **Timing.** A frame whose delay is 0 or 1 centisecond (10 ms or less) is shown for 100 ms
  (Chromium, Firefox, Safari); FFmpeg keeps the stored delay.
- **Canvas.** The canvas is the logical screen, widened to hold the first image when that
  image extends past it (Chromium/Wuffs and Firefox; Wuffs' `frame-out-of-bounds.gif`).
  Later images are clipped to the canvas (browsers cannot resize a playing animation);
  Pillow grows the canvas for any image instead.
- **End of the animation.** Browsers end at the trailer and ignore blocks after the last
  image (a comment, a graphic control block with no image after it); a byte where a block
  should start that is not a block introducer ends the image data too (Chromium and Firefox
  treat the file as correctly terminated there). The packets end at the last image.
- **Truncation.** Image data cut off before its terminator is an error (a cut download); a
  missing trailer byte alone is accepted, as browsers do.

FFmpeg's decoder clips an image to its screen but loses LZW row sync on an image wider than
the screen and rejects one that starts outside it. So the packets give FFmpeg a screen large
enough for every image that draws something (`decode_width` x `decode_height`, the decoded
frame is then cropped to the canvas), and an image that draws nothing is replaced by a
transparent 1x1 image with the same delay (its disposal cannot change a pixel either).
"""

from __future__ import annotations

from dataclasses import dataclass

from mrw.media.limits import DecodeLimits, FrameDecodeError, browser_delay_s

TRAILER, EXTENSION, IMAGE = 0x3B, 0x21, 0x2C
GRAPHIC_CONTROL = 0xF9
# One fully transparent pixel at (0, 0) with disposal "none": an image that draws nothing.
# Graphic control (transparent index 0), then an image descriptor with a 2-entry local
# colour table and LZW data (minimum code size 2; codes clear, 0, end: 0x144, 9 bits).
_EMPTY_IMAGE = (
    b"\x21\xf9\x04\x05\x00\x00\x00\x00"
    + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x80"
    + bytes(6)
    + b"\x02\x02\x44\x01\x00"
)


@dataclass(frozen=True)
class GifLayout:
    """What the blocks say: the canvas, each frame's browser delay, one packet per frame."""

    width: int  # the canvas (logical screen, widened by the first image)
    height: int
    delays_s: tuple[float, ...]  # browser timing, one per image
    packets: tuple[bytes, ...]  # what FFmpeg's GIF decoder reads: one frame per packet
    decode_width: int  # the screen the packets declare: >= the canvas, then cropped to it
    decode_height: int

    @property
    def duration_s(self) -> float:
        """Playback length in seconds: the sum of the browser delays."""
        return sum(self.delays_s)


@dataclass(frozen=True)
class _Image:
    rect: tuple[int, int, int, int]  # left, top, width, height as stored
    blocks: bytes  # the extension blocks before the image, then the image itself
    delay_s: float  # browser delay


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


def _images(data: bytes, start: int, limits: DecodeLimits, screen: tuple[int, int]) -> list[_Image]:
    """Every image from `start` to the end of the animation (see the module docstring)."""
    has_global_table = bool(data[10] & 0x80)
    images: list[_Image] = []
    pos = pending_start = start  # extension blocks since the last image belong to the next one
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
            raise FrameDecodeError(f"truncated GIF: image {len(images) + 1} descriptor is cut off")
        left, top, w, h = (_u16(data, pos + k) for k in (1, 3, 5, 7))
        limits.check_frame_size(w, h)
        if not has_global_table and not data[pos + 9] & 0x80:
            raise FrameDecodeError(f"corrupt GIF: image {len(images) + 1} has no colour table")
        after = _skip_sub_blocks(data, pos + 10 + _colour_table_size(data[pos + 9]) + 1)
        if after is None:
            raise FrameDecodeError(
                f"truncated GIF: image {len(images) + 1} ends before its data does"
            )
        images.append(
            _Image((left, top, w, h), data[pending_start:after], browser_delay_s(delay_s))
        )
        limits.check_frames(len(images), *screen)
        pos = pending_start = after
        delay_s = 0.0
    if not images:
        raise FrameDecodeError(f"no frames: the GIF holds no image before {stop}")
    return images


def read_gif(data: bytes, limits: DecodeLimits) -> GifLayout:
    """Walk the blocks of a GIF: its frames with browser delays, one decoder packet each.

    Args:
        data: the whole file.
        limits: frame size, count and total canvas work are checked as blocks are read,
            before any pixel is decoded.

    Returns:
        A `GifLayout` (see the module docstring for the browser rules it follows).

    Raises:
        FrameDecodeError: bad header, image data cut off, no image, an image without a
            colour table, or over a limit.
    """
    if len(data) < 13 or data[:6] not in (b"GIF87a", b"GIF89a"):
        raise FrameDecodeError("corrupt GIF: bad header")
    width, height = _u16(data, 6), _u16(data, 8)
    limits.check_frame_size(width, height)
    header_end = 13 + _colour_table_size(data[10])
    images = _images(data, header_end, limits, (max(width, 1), max(height, 1)))
    left, top, w, h = images[0].rect
    if w and h:  # the first image widens the canvas (browsers)
        width, height = max(width, left + w), max(height, top + h)
    if width == 0 or height == 0:
        raise FrameDecodeError(f"invalid GIF screen size {width}x{height}")
    limits.check_frame_size(width, height)

    def draws(image: _Image) -> bool:
        left, top, w, h = image.rect
        return bool(w and h) and left < width and top < height

    shown = [image for image in images if draws(image)]
    decode_width = max([width, *(image.rect[0] + image.rect[2] for image in shown)])
    decode_height = max([height, *(image.rect[1] + image.rect[3] for image in shown)])
    limits.check_frame_size(decode_width, decode_height)
    limits.check_frames(len(images), decode_width, decode_height)
    screen = decode_width.to_bytes(2, "little") + decode_height.to_bytes(2, "little")
    header = data[:6] + screen + data[10:header_end]
    packets = [image.blocks if draws(image) else _EMPTY_IMAGE for image in images]
    packets[0] = header + packets[0]
    return GifLayout(
        width,
        height,
        tuple(image.delay_s for image in images),
        tuple(packets),
        decode_width,
        decode_height,
    )
