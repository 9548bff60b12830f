"""Perceptual video hash: finds reposts of the same GIF at another size, frame rate or encoding.

A video's hash is computed on a few frames taken at fixed *relative* times (so it does not
depend on resolution, palette, container or frame rate), with `imagehash`:

- the perceptual hash (`imagehash.phash`: the signs of the low 8x8 DCT coefficients of a
  32x32 grey image against their median; Zauner 2010, "Implementation and Benchmarking of
  Perceptual Image Hash Functions") of each frame: its structure, and
- the colour hash (`imagehash.colorhash`, 3 bits per bin): the share of black, grey and
  each hue band.

Two videos are near duplicates when both agree: the pHash Hamming distance is at most
`max_distance` *and* the colour hash distance at most `max_colour_distance`. A difference
hash (dHash) alone is too weak on flat backgrounds, where most gradient bits are zero: a
white clip with black digits and a blue clip with white text fell 21 of 256 bits apart.

A video hash is a uint64 array of `2 * frames` words: the pHash of each frame, then the
colour hash of each frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import imagehash
import numpy as np
from PIL import Image

from mrw.curate.hamming import radius_groups

HASH_FRAMES = 4  # frames per video, evenly spread over its duration
DEFAULT_MAX_DISTANCE = 56  # pHash bits of 256: reposts measured <= 38, different clips >= 110
DEFAULT_MAX_COLOUR_DISTANCE = 8  # colour-hash bits of 168: reposts <= 2, other clips >= 10
COLOUR_BIN_BITS = 3


def _as_image(frame: np.ndarray) -> Image.Image:
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    return Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))


def _word(bits: np.ndarray) -> int:
    flat = np.asarray(bits, dtype=bool).ravel()
    if flat.size > 64:
        raise ValueError(f"a hash of {flat.size} bits does not fit a 64-bit word")
    return int.from_bytes(np.packbits(np.pad(flat, (64 - flat.size, 0))).tobytes(), "big")


def hash_frames(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The video hash of already-sampled frames (`[H, W, 3]` / `[3, H, W]` uint8 or grey).

    Returns:
        uint64 `[2 * len(frames)]`: the 64-bit pHash of each frame, then its 42-bit colour hash.
    """
    images = [_as_image(f) for f in frames]
    shape = [_word(imagehash.phash(image).hash) for image in images]
    colour = [
        _word(imagehash.colorhash(image.convert("RGB"), COLOUR_BIN_BITS).hash) for image in images
    ]
    return np.array(shape + colour, dtype=np.uint64)


def hash_video(path: str | Path, num_frames: int = HASH_FRAMES) -> np.ndarray:
    """Decode `num_frames` evenly spread frames of a video file and hash them (`hash_frames`).

    Raises `mrw.media.frames.FrameDecodeError` for media that does not decode.
    """
    from mrw.media.frames import decode

    # Sampling on an 8 fps timeline picks the same moments whatever the clip's own frame rate.
    clip = decode(path, num_frames=num_frames, fps=8.0)
    return hash_frames(clip.frames.permute(0, 2, 3, 1).numpy())


def to_hex(video_hash: np.ndarray) -> str:
    """Stable text form for manifests (16 hex digits per word)."""
    return "".join(f"{int(v):016x}" for v in video_hash)


def from_hex(text: str) -> np.ndarray:
    """Inverse of `to_hex`: a uint64 array, one word per 16 hex digits.

    Raises:
        ValueError: If `text` holds a non-hex character.
    """
    return np.array([int(text[i : i + 16], 16) for i in range(0, len(text), 16)], dtype=np.uint64)


def _halves(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if hashes.shape[-1] % 2:
        raise ValueError(f"a video hash has 2 words per frame, got {hashes.shape[-1]} words")
    frames = hashes.shape[-1] // 2
    return hashes[..., :frames], hashes[..., frames:]


def distances(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """(pHash bits, colour-hash bits) that differ between two video hashes of one length."""
    (shape_a, colour_a), (shape_b, colour_b) = _halves(a), _halves(b)
    return (
        int(np.bitwise_count(np.bitwise_xor(shape_a, shape_b)).sum()),
        int(np.bitwise_count(np.bitwise_xor(colour_a, colour_b)).sum()),
    )


def near_duplicate_groups(
    hashes: np.ndarray,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    max_colour_distance: int = DEFAULT_MAX_COLOUR_DISTANCE,
) -> np.ndarray:
    """Label each video with the smallest index of its near-duplicate cluster.

    `hashes` is `[N, 2F]` uint64 (`hash_frames`). Pairs within `max_distance` pHash bits
    and `max_colour_distance` colour bits are linked; clusters are their transitive closure,
    so a chain of reposts ends in one cluster. Identical hashes are merged first and
    candidate pairs come from multi-index hashing, so this is sub-quadratic for spread-out
    hashes and exactly the all-pairs result (`mrw.curate.hamming.radius_groups`;
    `benchmarks/near_duplicates.py` checks it against the all-pairs comparison).

    Returns:
        `[N]` int64 cluster labels.
    Raises:
        ValueError: a hash with an odd number of words.
    """
    shape, colour = _halves(np.ascontiguousarray(hashes, dtype=np.uint64).reshape(len(hashes), -1))
    return radius_groups([(shape, max_distance), (colour, max_colour_distance)])
