"""GIFs written byte by byte, so tests control every block a browser reads.

Pillow re-times and merges frames when it saves; the edge cases of issue 12 need exact
bytes: delays of 0 or 1 centisecond, blocks after the last image, stray bytes, image
rectangles outside the logical screen, interlacing, local palettes, disposal modes.

    gif = GifWriter(40, 30, palette=[(255, 0, 0), (0, 0, 255)])
    gif.image(fill=0, delay_cs=1)
    gif.image(fill=1, delay_cs=1)
    data = gif.bytes()
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

Colour = tuple[int, int, int]
LZW_MIN_CODE_SIZE = 8  # pixel codes 0..255, code width 9 bits throughout


def _palette_bytes(palette: list[Colour]) -> tuple[bytes, int]:
    """The colour table padded to a power of two (>= 2 entries) and its size field."""
    bits = max(1, (len(palette) - 1).bit_length())
    padded = list(palette) + [(0, 0, 0)] * ((1 << bits) - len(palette))
    return b"".join(bytes(c) for c in padded), bits - 1


def lzw_encode(indices: np.ndarray) -> bytes:
    """Image data sub-blocks for palette indices (uint8), without compression.

    Every pixel is written as its own literal code and a clear code is sent before the
    table would grow past 9-bit codes: valid LZW that every decoder reads.
    """
    clear, end = 1 << LZW_MIN_CODE_SIZE, (1 << LZW_MIN_CODE_SIZE) + 1
    run = (1 << LZW_MIN_CODE_SIZE) - 3
    codes: list[int] = []
    flat = indices.ravel().tolist()
    for start in range(0, len(flat), run):
        codes.append(clear)
        codes.extend(flat[start : start + run])
    codes.append(end)
    value, bits, out = 0, 0, bytearray()
    for code in codes:
        value |= code << bits
        bits += LZW_MIN_CODE_SIZE + 1
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    blocks = bytearray([LZW_MIN_CODE_SIZE])
    for start in range(0, len(out), 255):
        chunk = out[start : start + 255]
        blocks += bytes([len(chunk)]) + chunk
    return bytes(blocks + b"\x00")


def _interlaced(pixels: np.ndarray) -> np.ndarray:
    """Rows in GIF interlace order (every 8th from 0, every 8th from 4, every 4th from 2, ...)."""
    order = [*range(0, len(pixels), 8), *range(4, len(pixels), 8)]
    order += [*range(2, len(pixels), 4), *range(1, len(pixels), 2)]
    return pixels[order]


@dataclass
class GifWriter:
    """An animated GIF89a built block by block (all sizes in pixels, delays in centiseconds)."""

    width: int
    height: int
    palette: list[Colour] | None = None  # global colour table
    loop: bool = True
    blocks: list[bytes] = field(default_factory=list)

    def image(
        self,
        fill: int | np.ndarray = 0,
        *,
        delay_cs: int | None = 10,
        rect: tuple[int, int, int, int] | None = None,
        local_palette: list[Colour] | None = None,
        interlace: bool = False,
        disposal: int = 0,
        transparent: int | None = None,
    ) -> GifWriter:
        """Add one image: a graphic control block (unless `delay_cs` is None), then the image.

        `fill` is a palette index or an `[h, w]` array of indices; `rect` is
        (left, top, width, height), the whole screen by default.
        """
        left, top, w, h = rect or (0, 0, self.width, self.height)
        pixels = np.asarray(fill, dtype=np.uint8)
        pixels = np.full((h, w), pixels, np.uint8) if pixels.ndim == 0 else pixels
        if delay_cs is not None:
            packed = (disposal << 2) | (1 if transparent is not None else 0)
            self.blocks.append(
                b"\x21\xf9\x04"
                + bytes([packed])
                + delay_cs.to_bytes(2, "little")
                + bytes([transparent or 0, 0])
            )
        flags, table = 0, b""
        if local_palette is not None:
            table, size_field = _palette_bytes(local_palette)
            flags = 0x80 | size_field
        if interlace:
            flags |= 0x40
            pixels = _interlaced(pixels)
        descriptor = b"\x2c" + b"".join(v.to_bytes(2, "little") for v in (left, top, w, h))
        self.blocks.append(descriptor + bytes([flags]) + table + lzw_encode(pixels))
        return self

    def raw(self, data: bytes) -> GifWriter:
        """Append bytes as they are (extension blocks, stray bytes)."""
        self.blocks.append(data)
        return self

    def comment(self, text: bytes = b"made by a test") -> GifWriter:
        return self.raw(b"\x21\xfe" + bytes([len(text)]) + text + b"\x00")

    def graphic_control(self, delay_cs: int = 10) -> GifWriter:
        """A graphic control block with no image after it (some encoders end files so)."""
        return self.raw(b"\x21\xf9\x04\x00" + delay_cs.to_bytes(2, "little") + b"\x00\x00")

    def bytes(self, trailer: bool = True) -> bytes:
        header = b"GIF89a" + self.width.to_bytes(2, "little") + self.height.to_bytes(2, "little")
        if self.palette is not None:
            table, size_field = _palette_bytes(self.palette)
            header += bytes([0x80 | size_field, 0, 0]) + table
        else:
            header += b"\x00\x00\x00"
        if self.loop:
            header += b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
        return header + b"".join(self.blocks) + (b"\x3b" if trailer else b"")


def solid_palette(count: int) -> list[Colour]:
    """`count` clearly distinct colours (index i is recognisable from its red and green)."""
    return [(int(25 * i) % 256, 255 - int(25 * i) % 256, (80 * i) % 256) for i in range(count)]
