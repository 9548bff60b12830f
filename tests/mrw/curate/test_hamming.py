"""`mrw.curate.hamming.radius_groups` (near-duplicate grouping in `mrw clean`) equals the all-pairs
comparison with union-find, on planted reposts, identical hashes and degenerate limits."""

from __future__ import annotations

import numpy as np
import pytest

from mrw.curate import videohash
from mrw.curate.hamming import radius_groups


def all_pairs(fields: list[tuple[np.ndarray, int]]) -> list[int]:
    """The reference: compare every pair, link, label each item by its group's smallest index."""
    n = len(fields[0][0])
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(n):
        for j in range(i + 1, n):
            if all(
                int(np.bitwise_count(words[i] ^ words[j]).sum()) <= limit for words, limit in fields
            ):
                ri, rj = find(i), find(j)
                parent[max(ri, rj)] = min(ri, rj)
    return [find(i) for i in range(n)]


def planted(rng: np.random.Generator, n: int, words: int, bits: int, flips: int) -> np.ndarray:
    """`[n, words]` uint64 of `bits` random low bits; a third are copies of an earlier row
    with up to `flips` bits flipped, a few are exact copies."""
    rows = rng.integers(0, 2**bits, (n, words), dtype=np.uint64)
    for i in range(1, n):
        if rng.random() < 0.35:
            rows[i] = rows[rng.integers(0, i)]
            for _ in range(int(rng.integers(0, flips + 1))):
                rows[i, rng.integers(0, words)] ^= np.uint64(1) << np.uint64(rng.integers(0, bits))
    return rows


@pytest.mark.parametrize("seed", range(8))
def test_equals_all_pairs_on_planted_reposts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 160))
    bits = int(rng.choice([3, 8, 42, 64]))
    shape = planted(rng, n, 2, bits, flips=6)
    colour = planted(rng, n, 2, bits, flips=3)
    colour[: n // 2] = shape[: n // 2]  # correlated fields too
    for limits in ((4, 2), (0, 0), (10, 1), (2 * bits, 2 * bits + 5)):
        fields = list(zip((shape, colour), limits, strict=True))
        assert radius_groups(fields).tolist() == all_pairs(fields), (seed, limits)


def test_identical_hashes_are_one_group_and_chains_close() -> None:
    base = np.array([[0b1111], [0b1110], [0b1100], [0b1000], [0b1111]], dtype=np.uint64)
    assert radius_groups([(base, 1)]).tolist() == [0, 0, 0, 0, 0]  # 1-bit steps chain up
    assert radius_groups([(base, 0)]).tolist() == [0, 1, 2, 3, 0]
    assert radius_groups([(base[:0], 3)]).tolist() == []
    with pytest.raises(ValueError):
        radius_groups([(base, 1), (base[:2], 1)])


def test_video_hashes_group_as_before() -> None:
    """The video-hash entry point: pHash and colour words, both limits applied."""
    rng = np.random.default_rng(0)
    frames = videohash.HASH_FRAMES
    hashes = np.concatenate(
        [planted(rng, 120, frames, 64, flips=20), planted(rng, 120, frames, 42, flips=2)], axis=1
    )
    hashes[60:] = hashes[0]  # many identical hashes
    expected = all_pairs([(hashes[:, :frames], 30), (hashes[:, frames:], 3)])
    assert videohash.near_duplicate_groups(hashes, 30, 3).tolist() == expected
    with pytest.raises(ValueError, match="2 words per frame"):
        videohash.near_duplicate_groups(hashes[:, :3])
