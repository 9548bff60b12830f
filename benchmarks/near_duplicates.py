"""Near-duplicate clustering speed: `mrw.curate.videohash.near_duplicate_groups` against a loop.

Baseline: the obvious pure-Python all-pairs loop (XOR + popcount of Python ints, union-find),
the way a first script would do it. Both run in this process on the same video hashes:
random hashes (a 64-bit pHash and a colour-hash word per frame) with a share of planted
reposts (a few bits flipped), and must return the same clusters.

    python benchmarks/near_duplicates.py                  # small: 3,000 videos
    python benchmarks/near_duplicates.py --n 50107        # MRW's size (the loop takes minutes)
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np

from mrw.curate.videohash import (
    DEFAULT_MAX_COLOUR_DISTANCE,
    DEFAULT_MAX_DISTANCE,
    HASH_FRAMES,
    near_duplicate_groups,
)

WORDS = 2 * HASH_FRAMES  # pHash words, then colour words


def planted_hashes(n: int, repost_share: float, seed: int) -> np.ndarray:
    """`[n, 2 * HASH_FRAMES]` uint64: random videos, some of them reposts of earlier ones."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2**63, (n, WORDS), dtype=np.uint64) * np.uint64(2)
    hashes |= rng.integers(0, 2, (n, WORDS), dtype=np.uint64)
    reposts = rng.choice(np.arange(1, n), size=int(n * repost_share), replace=False)
    for i in reposts:
        source = hashes[rng.integers(0, i)].copy()
        for _ in range(int(rng.integers(0, DEFAULT_MAX_DISTANCE // 2))):  # flip a few bits
            source[rng.integers(0, HASH_FRAMES)] ^= np.uint64(1) << np.uint64(rng.integers(0, 64))
        hashes[i] = source
    return hashes


def python_loop(hashes: np.ndarray, max_distance: int, max_colour: int) -> list[int]:
    """The baseline: every pair compared with Python ints (pHash words, then colour words)."""
    words = [[int(v) for v in row] for row in hashes]
    parent = list(range(len(words)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(words):
        for j in range(i + 1, len(words)):
            b = words[j]
            bits = [(x ^ y).bit_count() for x, y in zip(a, b, strict=True)]
            if sum(bits[:HASH_FRAMES]) <= max_distance and sum(bits[HASH_FRAMES:]) <= max_colour:
                ri, rj = find(i), find(j)
                if ri != rj:
                    parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(len(words))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=3000, help="videos (default %(default)s)")
    parser.add_argument("--repost-share", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    hashes = planted_hashes(args.n, args.repost_share, args.seed)
    start = time.perf_counter()
    fast = near_duplicate_groups(hashes, DEFAULT_MAX_DISTANCE, DEFAULT_MAX_COLOUR_DISTANCE)
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    slow = python_loop(hashes, DEFAULT_MAX_DISTANCE, DEFAULT_MAX_COLOUR_DISTANCE)
    slow_s = time.perf_counter() - start
    assert fast.tolist() == slow, "the two implementations disagree"
    result = {
        "videos": args.n,
        "clusters": len(set(slow)),
        "python_loop_s": round(slow_s, 3),
        "near_duplicate_groups_s": round(fast_s, 3),
        "speedup": round(slow_s / fast_s, 1),
        "machine": platform.processor() or platform.machine(),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
