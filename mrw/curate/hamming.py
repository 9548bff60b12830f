"""Groups of bit strings linked by small Hamming distances, in sub-quadratic time.

Items are rows of several bit fields (e.g. a video hash's pHash words and colour-hash
words); two items are linked when, in every field, the Hamming distance is within that
field's limit, and groups are the transitive closure of the links. Instead of comparing all
pairs:

1. identical rows are merged first (`np.unique`), so repeats cost nothing;
2. candidate pairs come from multi-index hashing (Norouzi, Punjani and Fleet, "Fast Search
   in Hamming Space with Multi-Index Hashing", CVPR 2012): the bits of one field that vary
   at all are cut into `limit + 1` disjoint chunks; two rows within `limit` bits of each
   other agree exactly on at least one chunk (pigeonhole), so only rows sharing a chunk
   value are compared. The field with the most bits per chunk (the most selective) is used;
3. every candidate pair is checked exactly on all fields, and the links are closed under
   transitivity by connected components (`scipy.sparse.csgraph`).

The result is exactly the all-pairs result. The cost is O(N log N) plus the number of pairs
sharing a chunk value, which is small for spread-out hashes and only approaches N^2 when
most items agree on most of the indexed field's bits.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

_WORD_BITS = 64
_PAIRS_PER_CHECK = 1 << 22  # candidate pairs checked at once (bounds memory)


def _varying(words: np.ndarray) -> np.ndarray:
    """`[W]` uint64: the bits of `[N, W]` `words` that are not the same in every row."""
    return np.bitwise_or.reduce(words, axis=0) & ~np.bitwise_and.reduce(words, axis=0)


def _bit_ranges(words: np.ndarray, chunks: int) -> list[list[tuple[int, int, int]]]:
    """The varying bits of `[N, W]` uint64 `words`, cut into `chunks` near-equal parts.

    Returns per chunk its bit ranges `(word, low bit, length)`; a chunk has at most 64 bits.
    Bits equal in every row are left out (they never differ).
    """
    varying = _varying(words)
    live = [
        (w, bit)
        for w in range(words.shape[1])
        for bit in range(_WORD_BITS)
        if (int(varying[w]) >> bit) & 1
    ]
    chunks = max(chunks, -(-len(live) // _WORD_BITS))  # more chunks keep the pigeonhole
    parts: list[list[tuple[int, int, int]]] = []
    for part in np.array_split(np.arange(len(live)), chunks):
        ranges: list[tuple[int, int, int]] = []
        for i in part.tolist():
            w, bit = live[i]
            if ranges and ranges[-1][0] == w and ranges[-1][1] + ranges[-1][2] == bit:
                ranges[-1] = (w, ranges[-1][1], ranges[-1][2] + 1)
            else:
                ranges.append((w, bit, 1))
        parts.append(ranges)
    return parts


def _chunk_key(words: np.ndarray, ranges: list[tuple[int, int, int]]) -> np.ndarray:
    """`[N]` uint64: the bits of `ranges` packed side by side."""
    key = np.zeros(len(words), dtype=np.uint64)
    offset = 0
    for w, low, length in ranges:
        mask = np.uint64((1 << length) - 1)
        key |= ((words[:, w] >> np.uint64(low)) & mask) << np.uint64(offset)
        offset += length
    return key


def _equal_key_pairs(key: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Every unordered pair {i, j}, i != j, of rows with equal `key`, once, in batches."""
    order = np.argsort(key)
    ordered = key[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    ends = np.append(starts[1:], key.size)
    run_end = np.repeat(ends, ends - starts)  # end of each sorted position's run
    position = np.flatnonzero(run_end - np.arange(key.size) > 1)  # runs of two or more
    offset = 1
    while position.size:
        partner = position + offset
        position = position[partner < run_end[position]]
        partner = position + offset
        for start in range(0, position.size, _PAIRS_PER_CHECK):
            chunk = slice(start, start + _PAIRS_PER_CHECK)
            yield order[position[chunk]], order[partner[chunk]]
        offset += 1


def _within(columns: Sequence[tuple[np.ndarray, int]], i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """`[P]` bool: whether rows i and j are within every field's limit.

    `columns` holds each field's words transposed (`[W, N]`: a word's column is contiguous,
    so a gather reads it alone) with its limit. Fields are checked in order, each on the
    pairs that passed the ones before, so the most selective field should come first.
    """
    keep = np.arange(i.size)
    for words, limit in columns:
        a, b = i[keep], j[keep]
        distance = np.zeros(keep.size, dtype=np.int64)
        for column in words:
            distance += np.bitwise_count(column[a] ^ column[b])
        keep = keep[distance <= limit]
    passed = np.zeros(i.size, dtype=bool)
    passed[keep] = True
    return passed


def radius_groups(fields: Sequence[tuple[np.ndarray, int]]) -> np.ndarray:
    """Label each item with the smallest index of its group (see the module docstring).

    Args:
        fields: `(words, limit)` per field: `[N, W]` uint64 words (same N for all fields)
            and the largest Hamming distance, in bits summed over the field's words, at
            which two items still link.
    Returns:
        `[N]` int64: for each item, the smallest index in its group (itself when alone).
    Raises:
        ValueError: the fields do not have the same number of rows, or a limit is negative.
    """
    if not fields:
        raise ValueError("at least one field is needed")
    n = len(fields[0][0])
    if any(len(words) != n for words, _ in fields) or any(limit < 0 for _, limit in fields):
        raise ValueError("every field needs N rows of words and a limit >= 0")
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    rows = np.concatenate([np.ascontiguousarray(w, dtype=np.uint64) for w, _ in fields], axis=1)
    unique, first, inverse = np.unique(rows, axis=0, return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    split = np.cumsum([words.shape[1] for words, _ in fields])[:-1]
    unique_fields = [
        (np.ascontiguousarray(part), limit)
        for part, (_, limit) in zip(np.split(unique, split, axis=1), fields, strict=True)
    ]
    # The most selective index: the field with the most varying bits per chunk; candidates
    # are checked on it first.
    selectivity = [np.bitwise_count(_varying(w)).sum() / (limit + 1) for w, limit in unique_fields]
    ranked = sorted(range(len(unique_fields)), key=lambda f: -selectivity[f])
    indexed = unique_fields[ranked[0]]
    columns = [(np.ascontiguousarray(unique_fields[f][0].T), unique_fields[f][1]) for f in ranked]
    ends_i: list[np.ndarray] = []
    ends_j: list[np.ndarray] = []
    for ranges in _bit_ranges(indexed[0], indexed[1] + 1):
        for i, j in _equal_key_pairs(_chunk_key(indexed[0], ranges)):
            keep = _within(columns, i, j)
            ends_i.append(i[keep])
            ends_j.append(j[keep])
    m = len(unique)
    i = np.concatenate(ends_i) if ends_i else np.zeros(0, dtype=np.int64)
    j = np.concatenate(ends_j) if ends_j else np.zeros(0, dtype=np.int64)
    # A pair found in several chunks is several entries: their sum (int32) is never 0.
    graph = coo_matrix((np.ones(i.size, dtype=np.int32), (i, j)), shape=(m, m))
    _, component = connected_components(graph, directed=False)
    smallest = np.full(component.max() + 1, n, dtype=np.int64)
    np.minimum.at(smallest, component, first)
    return smallest[component[inverse]]
