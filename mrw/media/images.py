"""Still images (JPEG, PNG) as one-frame clips, so image-text sets share the video pipeline.

MS-COCO, Flickr30K and the toy image set store an image where a video dataset stores a clip
(the `video` column holds the image bytes). `probe_media` and `decode_media` accept either:
videos and GIFs go to `mrw.media.frames` (which refuses single-frame input, as collection needs),
stills are read here with Pillow. A still is decoded the way PVSE's reference code
(yalesong/pvse, `data.py`, evaluation transform) and VSE++ prepare test images: the shorter
side resized to `size * 8 / 7` (256 px for 224) and a centred `size` x `size` crop; the
frame is repeated when more than one is asked for, as `mrw.media.frames` repeats a short clip's
last frame.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import torch

from mrw.media.frames import (
    DEFAULT_LIMITS,
    Clip,
    DecodeLimits,
    FrameDecodeError,
    Sampling,
    Source,
    VideoInfo,
    decode,
    probe,
    verify,
)

# Magic bytes -> (codec name, file extension).
STILL_FORMATS: dict[bytes, tuple[str, str]] = {
    b"\xff\xd8\xff": ("mjpeg", ".jpg"),
    b"\x89PNG\r\n\x1a\n": ("png", ".png"),
}
RESIZE_RATIO = 256 / 224  # shorter side before the centre crop (ImageNet evaluation transform)


HEAD_BYTES = 4096  # enough to see a PNG's acTL chunk, which precedes its image data


def still_format(head: bytes) -> tuple[str, str] | None:
    """(codec, extension) of a still JPEG or PNG from its first bytes, or None for anything
    else, an animated PNG (an `acTL` chunk before `IDAT`: a clip, for `mrw.media.frames`)
    included."""
    for magic, kind in STILL_FORMATS.items():
        if head.startswith(magic):
            if kind[0] == "png" and b"acTL" in head.split(b"IDAT", 1)[0]:
                return None
            return kind
    return None


def _head(source: Source) -> bytes:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source[:HEAD_BYTES])
    try:
        with Path(source).open("rb") as handle:
            return handle.read(HEAD_BYTES)
    except OSError as exc:
        raise FrameDecodeError(f"cannot read {source}: {exc.strerror or exc}") from None


def _open_still(source: Source, limits: DecodeLimits):
    """A Pillow image, size-checked against `limits` before any pixel is decoded."""
    from PIL import Image, UnidentifiedImageError

    data = bytes(source) if isinstance(source, (bytes, bytearray, memoryview)) else None
    label = "<bytes>" if data is not None else os.fspath(source)
    try:
        size = len(data) if data is not None else Path(source).stat().st_size
    except OSError as exc:
        raise FrameDecodeError(f"cannot read {label}: {exc.strerror or exc}") from None
    if size > limits.max_bytes:
        raise FrameDecodeError(f"{label}: too large: {size} bytes (limit {limits.max_bytes})")
    try:
        image = Image.open(io.BytesIO(data) if data is not None else label)
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
        raise FrameDecodeError(f"{label}: not a decodable image ({exc})") from None
    limits.check_frame_size(*image.size)
    return image, label


def probe_media(source: Source, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """`mrw.media.frames.probe` for videos and GIFs; for a still: 1 frame, 0 s, its size and codec.

    Raises:
        FrameDecodeError: unreadable, corrupt or over-limit input.
    """
    kind = still_format(_head(source))
    if kind is None:
        return probe(source, limits=limits)
    image, _ = _open_still(source, limits)
    with image:
        width, height = image.size
    return VideoInfo(
        num_frames=1, fps=0.0, duration_s=0.0, width=width, height=height, codec=kind[0]
    )


def verify_media(source: Source, *, limits: DecodeLimits = DEFAULT_LIMITS) -> VideoInfo:
    """`mrw.media.frames.verify` for videos and GIFs (every frame decoded once); a still is decoded
    whole. What building a dataset row runs, so media that would fail later is refused.

    Raises:
        FrameDecodeError: unreadable, corrupt, truncated or over-limit input.
    """
    if still_format(_head(source)) is None:
        return verify(source, limits=limits)
    return decode_still(source, limits=limits).info


def decode_still(
    source: Source,
    num_frames: int | None = 1,
    size: int | None = None,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Clip:
    """A JPEG/PNG as a clip: `frames` uint8 `[num_frames, 3, S, S]` (the one frame repeated).

    Args:
        source: a path or the image bytes.
        num_frames: frames to return (the still repeated), >= 1; None: its one frame.
        size: crop side in pixels; the shorter side is first resized to round(size * 8 / 7)
            with Lanczos filtering (PVSE's test transform: 256, then 224). None keeps the
            image as it is.
    Returns:
        A `Clip` with zero timestamps and the still's `VideoInfo`.
    Raises:
        FrameDecodeError: not a decodable image, or over `limits`.
    """
    from PIL import Image

    num_frames = 1 if num_frames is None else num_frames
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    image, label = _open_still(source, limits)
    with image:
        try:
            rgb = image.convert("RGB")
        except (OSError, ValueError) as exc:
            raise FrameDecodeError(f"{label}: corrupt or truncated image ({exc})") from None
        info = VideoInfo(1, 0.0, 0.0, image.width, image.height, still_format(_head(source))[0])
    if size is not None:
        short = round(size * RESIZE_RATIO)
        scale = short / min(rgb.size)
        width, height = max(short, round(rgb.width * scale)), max(short, round(rgb.height * scale))
        rgb = rgb.resize((width, height), Image.Resampling.LANCZOS)
        left, top = (width - size) // 2, (height - size) // 2
        rgb = rgb.crop((left, top, left + size, top + size))
    frame = torch.from_numpy(np.asarray(rgb, dtype=np.uint8).copy()).permute(2, 0, 1)
    return Clip(
        frames=frame[None].expand(num_frames, -1, -1, -1).contiguous(),
        timestamps=torch.zeros(num_frames, dtype=torch.float64),
        info=info,
    )


def decode_media(
    source: Source,
    num_frames: int | None = 8,
    fps: float | None = 8.0,
    size: int | None = None,
    sampling: Sampling = "uniform",
    seed: int | None = None,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Clip:
    """`mrw.media.frames.decode` for videos and GIFs, `decode_still` for JPEG/PNG (fps and
    sampling do not apply to a still). Raises `FrameDecodeError` as both do."""
    if still_format(_head(source)) is None:
        return decode(source, num_frames, fps, size, sampling, seed, limits=limits)
    return decode_still(source, num_frames, size, limits=limits)
