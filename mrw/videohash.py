"""Perceptual video hash: finds reposts of the same GIF at another size, frame rate or encoding.

A video's hash is the difference hash (dHash) of a few frames taken at fixed *relative* times,
so it does not depend on resolution, palette, container or frame rate. Two videos are near
duplicates when the Hamming distance between their hashes is at most a threshold.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

HASH_FRAMES = 4  # frames per video, evenly spread over its duration
BITS_PER_FRAME = 64  # an 8x8 grid of horizontal gradients
DEFAULT_MAX_DISTANCE = 40  # of 256 bits: re-encodes land far below, unrelated GIFs near 128


def dhash_frame(frame: np.ndarray) -> int:
    """64-bit dHash of one frame (`[H, W, 3]` or `[3, H, W]` uint8, or `[H, W]` grey).

    The frame is shrunk to 9x8 grey with area averaging, then each bit says whether a pixel is
    brighter than its right neighbour: robust to scaling, re-quantisation and mild blur.
    """
    array = np.asarray(frame)
    if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
        array = np.moveaxis(array, 0, -1)
    if array.ndim == 3:
        array = array[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    grey = Image.fromarray(np.clip(array, 0, 255).astype(np.uint8), mode="L")
    small = np.asarray(grey.resize((9, 8), Image.Resampling.BOX), dtype=np.int16)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(np.packbits(bits).view(">u8")[0])


def hash_frames(frames: Sequence[np.ndarray] | np.ndarray) -> np.ndarray:
    """The video hash of already-sampled frames: one uint64 per frame."""
    return np.array([dhash_frame(np.asarray(f)) for f in frames], dtype=np.uint64)


def hash_video(path: str | Path, num_frames: int = HASH_FRAMES) -> np.ndarray:
    """Decode `num_frames` evenly spread frames of a video file and hash them.

    Raises `mrw.frames.FrameDecodeError` for media that does not decode.
    """
    from mrw.frames import decode

    # Sampling on an 8 fps timeline picks the same moments whatever the clip's own frame rate.
    clip = decode(path, num_frames=num_frames, fps=8.0)
    return hash_frames(clip.frames.permute(0, 2, 3, 1).numpy())


def to_hex(video_hash: np.ndarray) -> str:
    """Stable text form for manifests (16 hex digits per frame)."""
    return "".join(f"{int(v):016x}" for v in video_hash)


def from_hex(text: str) -> np.ndarray:
    return np.array([int(text[i : i + 16], 16) for i in range(0, len(text), 16)], dtype=np.uint64)


def hamming(a: np.ndarray, b: np.ndarray) -> int:
    """Number of differing bits between two video hashes of the same length."""
    return int(np.bitwise_count(np.bitwise_xor(a, b)).sum())


def near_duplicate_groups(
    hashes: np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE, block: int = 256
) -> np.ndarray:
    """Label each video with the smallest index of its near-duplicate cluster.

    `hashes` is `[N, F]` uint64. Pairs within `max_distance` bits are linked and clusters are
    their transitive closure (union-find), so a chain of reposts ends in one cluster. The
    all-pairs comparison runs in blocks of `block` rows with vectorised popcounts (N^2/2 * F
    word operations, ~140 MB per block at N = 50K): 12 s of CPU for MRW's 50,107 videos,
    where decoding them takes far longer (`benchmarks/near_duplicates.py`).
    """
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(hashes)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    columns = np.ascontiguousarray(hashes.T)  # [F, N]: one frame's hashes side by side
    for start in range(0, n, block):
        stop = min(start + block, n)
        # compare the block with itself and every later video only (each pair once)
        shape = (stop - start, n - start)
        dist = np.zeros(shape, dtype=np.uint16)
        xor, count = np.empty(shape, dtype=np.uint64), np.empty(shape, dtype=np.uint8)
        for frame in columns:
            np.bitwise_xor(frame[start:stop, None], frame[None, start:], out=xor)
            dist += np.bitwise_count(xor, out=count)
        ii, jj = np.nonzero(dist <= max_distance)
        for i, j in zip(ii + start, jj + start):
            if i < j:
                ri, rj = find(int(i)), find(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)
