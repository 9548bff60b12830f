"""Generated files with the structure of real ones that were once refused for false reasons.

Each maker copies one structural property of a file from a public decoder test corpus
(the files themselves are not part of the tests):

- `extents_gif`: Pillow's `Tests/images/test_extents.gif`: a GIF87a (no graphic control
  blocks) whose second image runs past the logical screen.
- `frame_out_of_bounds_gif`: Wuffs' `test/data/artificial-gif/frame-out-of-bounds.gif`: a
  first image larger than the screen (browsers widen the canvas to it), later images
  partly or entirely outside the canvas, one wider than it.
- `multiple_loop_counts_gif`: Wuffs' `multiple-loop-counts.gif`: images without graphic
  control blocks, two of them back to back, NETSCAPE loop-count blocks between the others.
- `bomb_extents_gif`: Pillow's `Tests/images/decompression_bomb_extents.gif`: two images
  without graphic control blocks, the second placed at (65535, 65535), far outside a small
  screen (a canvas grown to hold it, as Pillow grows it, is a decompression bomb).
- `two_video_streams`: like torchcodec's test file `nasa_13013.mp4`: two video streams, the
  first (the one browsers play) smaller than the second (the one FFmpeg calls "best").
- `faststart_mp4` / `truncated_mp4` / `mp4_cut_before_codec`: an MP4 whose index (`moov`)
  precedes its data, as web servers serve them, and such a file cut short, as an
  interrupted download leaves it (in its data, or in its index before the codec).
"""

from __future__ import annotations

import io
import os
import tempfile

import av
import numpy as np

from mrw.testing.gifs import GifWriter, solid_palette

PALETTE = solid_palette(8)
LOOP_BLOCK = b"\x21\xff\x0bNETSCAPE2.0\x03\x01"  # then the loop count (2 bytes) and 0x00


def _no_graphic_control(writer: GifWriter, fill: int, rect: tuple[int, int, int, int]) -> None:
    writer.image(fill, delay_cs=None, rect=rect)


def extents_gif() -> bytes:
    """100x100 screen: image 1 fills it (index 1), image 2 (index 2) is 100x100 at (50, 50)."""
    writer = GifWriter(100, 100, palette=PALETTE, loop=False)
    _no_graphic_control(writer, 1, (0, 0, 100, 100))
    _no_graphic_control(writer, 2, (50, 50, 100, 100))
    return b"GIF87a" + writer.bytes()[6:]


# (left, top, width, height, palette index) of `frame_out_of_bounds_gif`'s images, on a 2x2
# screen that the first image widens to 4x2.
OUT_OF_BOUNDS_IMAGES = (
    (0, 0, 4, 2, 1),  # larger than the screen: the canvas becomes 4x2
    (1, 1, 2, 1, 2),  # inside
    (0, 4, 1, 1, 3),  # entirely below the canvas: draws nothing
    (2, 0, 3, 3, 4),  # partly outside: clipped to 2x2
    (0, 1, 6, 1, 5),  # wider than the canvas: clipped to 4x1
)


def frame_out_of_bounds_gif() -> bytes:
    """Five images on a 2x2 screen (`OUT_OF_BOUNDS_IMAGES`), 100 ms each."""
    writer = GifWriter(2, 2, palette=PALETTE)
    for left, top, width, height, fill in OUT_OF_BOUNDS_IMAGES:
        writer.image(fill, delay_cs=10, rect=(left, top, width, height))
    return writer.bytes()


def multiple_loop_counts_gif() -> bytes:
    """Wuffs' layout: four 1x1 images at (0, 0) of a 2x2 screen (indices 1-4), no graphic
    control blocks, the first two back to back, a loop-count block after each later one."""
    writer = GifWriter(2, 2, palette=PALETTE, loop=False)
    for k, loops in enumerate((None, 50, 30, 40)):
        _no_graphic_control(writer, k + 1, (0, 0, 1, 1))
        if loops is not None:
            writer.raw(LOOP_BLOCK + loops.to_bytes(2, "little") + b"\x00")
    return writer.bytes()


def bomb_extents_gif() -> bytes:
    """Pillow's layout: a GIF87a without graphic control blocks, a 32x32 screen, image 1
    fills it, image 2 (32x32) sits at (65535, 65535)."""
    writer = GifWriter(32, 32, palette=PALETTE, loop=False)
    _no_graphic_control(writer, 1, (0, 0, 32, 32))
    _no_graphic_control(writer, 2, (65535, 65535, 32, 32))
    return b"GIF87a" + writer.bytes()[6:]


def faststart_mp4(frames: int = 6, size: int = 32, seed: int = 0) -> bytes:
    """An H.264 MP4 with its index first (`movflags=faststart`), random content per `seed`."""
    rng = np.random.default_rng(seed)
    handle, path = tempfile.mkstemp(suffix=".mp4")  # faststart rewrites the file: a real path
    os.close(handle)
    try:
        with av.open(path, "w", format="mp4", options={"movflags": "faststart"}) as container:
            stream = container.add_stream("libx264", rate=8)
            stream.width = stream.height = size
            stream.pix_fmt = "yuv420p"
            for _ in range(frames):
                pixels = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
                container.mux(stream.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")))
            container.mux(stream.encode())
        with open(path, "rb") as file:
            return file.read()
    finally:
        os.remove(path)


def mp4_cut_before_codec(**options: int) -> bytes:
    """A `faststart_mp4` cut where its sample description box (`stsd`, the codec) begins."""
    data = faststart_mp4(**options)
    return data[: data.index(b"stsd") - 4]


def truncated_mp4(fraction: float = 0.5, **options: int) -> bytes:
    """The first `fraction` of a `faststart_mp4`: its index is whole, its data is not."""
    data = faststart_mp4(**options)
    return data[: int(len(data) * fraction)]


def two_video_streams(
    first: tuple[int, int] = (32, 18),
    second: tuple[int, int] = (48, 26),
    frames: tuple[int, int] = (10, 12),
    rotation: int | None = None,
) -> bytes:
    """An MP4 with two H.264 streams (sizes `first`, `second` as (width, height); frame counts
    `frames`): frame k of the first has green level 6k, of the second red level 6k.
    `rotation` sets the first stream's display matrix."""
    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        streams = []
        for (width, height), rate in zip((first, second), (10, 12), strict=True):
            stream = container.add_stream("libx264", rate=rate)
            stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
            streams.append(stream)
        if rotation is not None:
            streams[0].set_display_rotation(rotation)
        for k in range(max(frames)):
            for channel, (stream, count) in enumerate(zip(streams, frames, strict=True)):
                if k < count:
                    pixels = np.zeros((stream.height, stream.width, 3), np.uint8)
                    pixels[..., 1 - channel] = 6 * k
                    frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                    container.mux(stream.encode(frame))
        for stream in streams:
            container.mux(stream.encode())
    return out.getvalue()
