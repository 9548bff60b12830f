"""Write TREC run files (`qid Q0 docid rank score tag`) fast, from score matrices.

The harness emits full-depth rankings (5,000 x 5,000 = 25M lines for an MRW test split), so
lines are formatted in bulk by Arrow compute kernels, a block of queries at a time, never by
a Python loop per line. Documents are ordered as trec_eval orders them (score descending,
ties by document id descending), so the rank column agrees with how the file is scored.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gzip
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mrw.core.atomic import atomic_write

LINES_PER_BLOCK = 1 << 20  # formatting granularity: bounds memory to a few hundred MB
# Scores per block: a truncated ranking of a wide gallery (TGIF: 34,101 documents) must not
# pull thousands of full rows at once; their copies would cost far more than the formatting.
SCORES_PER_BLOCK = 1 << 22
GZIP_LEVEL = 1  # run files are large and compress well even at level 1; level 9 is 5x slower


def _as_numpy(block: Any) -> np.ndarray:
    """A 2-D float32 array from a numpy array or a (possibly GPU) torch tensor: scores are
    written at the precision trec_eval compares them at (a C float; `leaderboard.parse.Run`),
    so the file's order and rank column are the scorer's. Beyond float32's range is inf."""
    if hasattr(block, "detach"):
        block = block.detach().float().cpu().numpy()
    array = np.asarray(block)
    if array.ndim != 2:
        raise ValueError(f"score blocks must be 2-D [queries, documents], got shape {array.shape}")
    with np.errstate(over="ignore"):  # refused below, with the other non-finite scores
        return array.astype(np.float32, copy=False)


def _row_blocks(scores: Any, rows_per_block: int) -> Iterator[np.ndarray]:
    """Split a matrix into row blocks; pass an iterable of blocks through."""
    if hasattr(scores, "ndim") and hasattr(scores, "shape"):
        for start in range(0, scores.shape[0], rows_per_block):
            yield _as_numpy(scores[start : start + rows_per_block])
    else:
        for block in scores:
            yield _as_numpy(block)


def _id_array(ids: Sequence[str], kind: str) -> pa.Array:
    array = pa.array([str(i) for i in ids], pa.string())
    if len(array) and not pc.all(pc.match_substring_regex(array, r"^\S+$")).as_py():
        raise ValueError(f"{kind} ids must be non-empty and contain no whitespace")
    return array


def top_columns(scores: np.ndarray, depth: int) -> np.ndarray:
    """`[rows, depth]` column indices of each row's `depth` best scores, in trec_eval's order.

    The order is score descending, then column ascending (the caller's columns are in
    document-id descending order). Below full depth the kept columns are selected first
    (`np.partition`, linear) and only they are sorted; columns tied with the cut-off score
    are kept in column order, exactly as a full stable sort would keep them.
    """
    n_rows, n_cols = scores.shape
    if depth >= n_cols:
        return np.argsort(-scores, axis=1, kind="stable")
    cut = np.partition(scores, n_cols - depth, axis=1)[:, n_cols - depth, None]
    above = scores > cut
    at_cut = scores == cut
    room = depth - np.count_nonzero(above, axis=1, keepdims=True)
    keep = above | (at_cut & (np.cumsum(at_cut, axis=1, dtype=np.int32) <= room))
    kept = np.nonzero(keep)[1].reshape(n_rows, depth)  # row-major: columns ascending
    order = np.argsort(-np.take_along_axis(scores, kept, axis=1), axis=1, kind="stable")
    return np.take_along_axis(kept, order, axis=1)


def format_block(
    qids: pa.Array, docids_desc: pa.Array, scores_desc_docs: np.ndarray, depth: int, tag_eol: str
) -> pa.Buffer:
    """The run-file bytes of one block of queries.

    `scores_desc_docs` has its columns in `docids_desc` order (document ids descending), so a
    stable sort on score descending yields trec_eval's order.
    """
    if not np.isfinite(scores_desc_docs).all():
        raise ValueError(
            "scores contain NaN or infinity, or exceed float32's range (the scorer accepts "
            "finite scores only)"
        )
    n_rows = scores_desc_docs.shape[0]
    order = top_columns(scores_desc_docs, depth)
    top = np.take_along_axis(scores_desc_docs, order, axis=1)
    ranks = pc.cast(pa.array(np.tile(np.arange(1, depth + 1, dtype=np.int32), n_rows)), pa.string())
    lines = pc.binary_join_element_wise(
        pc.take(qids, pa.array(np.repeat(np.arange(n_rows, dtype=np.int32), depth))),
        "Q0",
        pc.take(docids_desc, pa.array(order.reshape(-1))),
        ranks,
        pc.cast(pa.array(top.reshape(-1)), pa.string()),
        tag_eol,
        " ",
    )
    offsets = np.frombuffer(
        lines.buffers()[1], dtype=np.int32, count=len(lines) + 1, offset=lines.offset * 4
    )
    return lines.buffers()[2][int(offsets[0]) : int(offsets[-1])]


def write_run(
    path: str | os.PathLike[str],
    qids: Sequence[str],
    docids: Sequence[str],
    scores: Any,
    tag: str,
    depth: int | None = None,
) -> int:
    """Write a ranking of `docids` for every query of `qids`; returns the number of lines.

    `scores` is a `[len(qids), len(docids)]` matrix (numpy or torch; higher = more similar) or
    an iterable of row blocks of it in `qids` order, so a caller can stream a similarity
    matrix it never holds whole. `depth` keeps the top `depth` documents per query (default:
    all). Scores are written as float32 (shortest round-trip text), the precision the
    scorer compares them at. The file is gzip-compressed when `path` ends in `.gz`, and
    written atomically.
    """
    if not tag or any(c.isspace() for c in tag):
        raise ValueError("tag must be non-empty and contain no whitespace")
    query_array = _id_array(qids, "query")
    doc_array = _id_array(docids, "document")
    n_docs = len(doc_array)
    depth = n_docs if depth is None else min(int(depth), n_docs)
    if depth <= 0 or n_docs == 0:
        raise ValueError("depth and the number of documents must be positive")
    by_id_desc = np.asarray(
        sorted(range(n_docs), key=lambda i: str(docids[i]).encode("utf-8"), reverse=True), np.int64
    )
    docids_desc = doc_array.take(pa.array(by_id_desc))
    rows_per_block = max(1, min(LINES_PER_BLOCK // depth, SCORES_PER_BLOCK // n_docs))
    compress = os.fspath(path).endswith(".gz")
    tag_eol = f"{tag}\n"

    def format_rows(first: int, block: np.ndarray) -> bytes | pa.Buffer:
        if block.shape[1] != n_docs:
            raise ValueError(f"score block has {block.shape[1]} columns, expected {n_docs}")
        if first + block.shape[0] > len(query_array):
            raise ValueError("more score rows than query ids")
        block_qids = query_array.slice(first, block.shape[0])
        text = format_block(block_qids, docids_desc, block[:, by_id_desc], depth, tag_eol)
        # Each block is its own gzip member (a concatenation is a valid gzip file), so
        # compression runs on the worker threads too.
        return gzip.compress(text, GZIP_LEVEL, mtime=0) if compress else text

    def numbered_blocks() -> Iterator[tuple[int, np.ndarray]]:
        first = 0
        for block in _row_blocks(scores, rows_per_block):
            yield first, block
            first += block.shape[0]

    rows = 0
    with atomic_write(path, "wb") as out:
        for chunk, n_rows in _ordered_map(format_rows, numbered_blocks()):
            out.write(chunk)
            rows += n_rows
        if rows != len(query_array):
            raise ValueError(f"got scores for {rows} queries, expected {len(query_array)}")
    return rows * depth


def _ordered_map(
    fn: Callable[[int, np.ndarray], bytes | pa.Buffer], items: Iterator[tuple[int, np.ndarray]]
) -> Iterator[tuple[bytes | pa.Buffer, int]]:
    """`fn` over blocks on a few threads (Arrow and numpy release the GIL), results in order.

    At most `workers + 1` blocks are in flight, so memory stays bounded for any input size.
    """
    workers = max(1, min(8, (os.cpu_count() or 1)))
    pending: collections.deque[tuple[concurrent.futures.Future, int]] = collections.deque()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for first, block in items:
            pending.append((pool.submit(fn, first, block), block.shape[0]))
            if len(pending) > workers:
                future, n_rows = pending.popleft()
                yield future.result(), n_rows
        while pending:
            future, n_rows = pending.popleft()
            yield future.result(), n_rows
