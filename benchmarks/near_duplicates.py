"""Near-duplicate grouping speed: `mrw.curate.videohash.near_duplicate_groups` against the all-pairs
comparison it replaced, on the same hashes, with identical groups asserted.

Baseline: the previous implementation, kept here verbatim: every pair compared in blocks of
256 rows with vectorised XOR + popcount, linked pairs merged by union-find (quadratic).
Inputs: random video hashes (a 64-bit pHash word and a 42-bit colour-hash word per frame,
as `mrw.curate.videohash.hash_frames` makes them) with a share of planted reposts (up to 27 pHash
bits flipped), plus a second set where 2,000 of 5,000 hashes are identical.

1. both on `--n` hashes and on the identical-hash set: time, ratio, groups asserted equal;
2. the new grouping alone at `--sizes` (default up to 1M hashes), with the growth factor
   per 4x items (x4 is linear, x16 quadratic).

    python benchmarks/near_duplicates.py                     # baseline at 20K, new up to 1M
    python benchmarks/near_duplicates.py --n 80000           # the baseline takes minutes
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from mrw.curate.videohash import (
    DEFAULT_MAX_COLOUR_DISTANCE,
    DEFAULT_MAX_DISTANCE,
    HASH_FRAMES,
    near_duplicate_groups,
)

COLOUR_BITS = 42  # imagehash.colorhash with 3 bits per bin: 14 bins


def planted_hashes(n: int, repost_share: float, seed: int) -> np.ndarray:
    """`[n, 2 * HASH_FRAMES]` uint64: random videos, some of them reposts of earlier ones."""
    rng = np.random.default_rng(seed)
    shape = rng.integers(0, 2**64, (n, HASH_FRAMES), dtype=np.uint64, endpoint=False)
    colour = rng.integers(0, 2**COLOUR_BITS, (n, HASH_FRAMES), dtype=np.uint64)
    hashes = np.concatenate([shape, colour], axis=1)
    reposts = np.sort(rng.choice(np.arange(1, n), size=int(n * repost_share), replace=False))
    sources = (rng.random(reposts.size) * reposts).astype(np.int64)  # an earlier video each
    flips = rng.integers(0, DEFAULT_MAX_DISTANCE // 2, reposts.size)
    mask = np.zeros((reposts.size, HASH_FRAMES), dtype=np.uint64)
    row = np.repeat(np.arange(reposts.size), flips)
    bit = np.uint64(1) << rng.integers(0, 64, row.size).astype(np.uint64)
    np.bitwise_xor.at(mask, (row, rng.integers(0, HASH_FRAMES, row.size)), bit)
    hashes[reposts] = hashes[sources]
    hashes[reposts, :HASH_FRAMES] ^= mask
    return hashes


def identical_hashes(n: int, identical: int, seed: int) -> np.ndarray:
    """`planted_hashes` with `identical` of the rows set to one hash."""
    hashes = planted_hashes(n, 0.1, seed)
    rows = np.random.default_rng(seed + 1).choice(n, identical, replace=False)
    hashes[rows] = hashes[rows[0]]
    return hashes


def all_pairs_blocks(
    hashes: np.ndarray, max_distance: int, max_colour_distance: int, block: int = 256
) -> np.ndarray:
    """The baseline (the previous `near_duplicate_groups`): all pairs, blockwise, union-find."""
    hashes = np.ascontiguousarray(hashes, dtype=np.uint64)
    n = len(hashes)
    parent = np.arange(n)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    frames = hashes.shape[1] // 2
    shape_words = np.ascontiguousarray(hashes[:, :frames].T)
    colour_words = np.ascontiguousarray(hashes[:, frames:].T)
    for start in range(0, n, block):
        stop = min(start + block, n)
        size = (stop - start, n - start)
        xor, count = np.empty(size, dtype=np.uint64), np.empty(size, dtype=np.uint8)
        linked = np.ones(size, dtype=bool)
        for words, limit in ((shape_words, max_distance), (colour_words, max_colour_distance)):
            dist = np.zeros(size, dtype=np.uint16)
            for frame in words:
                np.bitwise_xor(frame[start:stop, None], frame[None, start:], out=xor)
                dist += np.bitwise_count(xor, out=count)
            linked &= dist <= limit
        ii, jj = np.nonzero(linked)
        for i, j in zip(ii + start, jj + start, strict=True):
            if i < j:
                ri, rj = find(int(i)), find(int(j))
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return np.array([find(i) for i in range(n)], dtype=np.int64)


def timed(fn, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20000, help="hashes for the baseline comparison")
    parser.add_argument("--identical", type=int, default=2000, help="identical hashes among 5,000")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="*",
        default=[5000, 20000, 80000, 320000, 1000000],
        help="hash counts for the new grouping alone",
    )
    parser.add_argument("--repost-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    limits = (DEFAULT_MAX_DISTANCE, DEFAULT_MAX_COLOUR_DISTANCE)

    print(f"{'input':34} {'baseline s':>10} {'new s':>8} {'speed-up':>9} {'groups':>8}  load")
    cases = [
        (f"{args.n:,} planted", planted_hashes(args.n, args.repost_share, args.seed)),
        (
            f"{min(args.identical, 5000):,} identical of 5,000",
            identical_hashes(5000, min(args.identical, 5000), args.seed),
        ),
    ]
    for name, hashes in cases:
        base_s, base = timed(all_pairs_blocks, hashes, *limits)
        new_s, new = timed(near_duplicate_groups, hashes, *limits)
        assert np.array_equal(base, new), f"{name}: the groups differ"
        print(
            f"{name:34} {base_s:10.2f} {new_s:8.3f} {base_s / new_s:8.1f}x "
            f"{len(np.unique(new)):8,}  {load()}"
        )
    print("groups identical to the all-pairs baseline")

    previous = None
    print(f"\n{'hashes (new grouping alone)':34} {'s':>8} {'x per 4x items':>15}  load")
    for n in args.sizes:
        seconds, _ = timed(near_duplicate_groups, planted_hashes(n, args.repost_share, args.seed))
        growth = ""
        if previous is not None:
            # growth rescaled to a 4x step: 4.0 is linear, 16.0 quadratic
            growth = f"{(seconds / previous[1]) ** (np.log(4) / np.log(n / previous[0])):.1f}"
        print(f"{n:34,} {seconds:8.2f} {growth:>15}  {load()}")
        previous = (n, seconds)


if __name__ == "__main__":
    main()
