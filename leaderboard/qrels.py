"""TREC qrels (`qid 0 docid rel`): the ground truth every run file is scored against.

A `Qrels` also holds the id tables the run-file parser maps ids through, so parsing a run
turns strings into integers once, in bulk.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from leaderboard.errors import QrelsError
from mrw.core.atomic import atomic_write

BITMAP_MAX_KEYS = 1 << 27  # pair-key bitmaps up to 128 MiB; larger key spaces sort instead
# A grade is a plain decimal integer, as C's atol reads it, short enough for an int64.
_GRADE = re.compile(rb"[+-]?[0-9]{1,18}")


@dataclass(frozen=True)
class Qrels:
    """Relevance judgements of one retrieval direction.

    `query_ids`/`doc_ids` are in order of first appearance; `rel_query`/`rel_doc` are the
    index pairs judged relevant (rel > 0) and `rel_grade` their grades (None: all 1). The
    gallery is every document the qrels name (each gallery item is relevant to at least one
    query); the scored queries are those with at least one relevant document.
    """

    query_ids: tuple[str, ...]
    doc_ids: tuple[str, ...]
    rel_query: np.ndarray
    rel_doc: np.ndarray
    path: str = "<qrels>"
    rel_grade: np.ndarray | None = None

    @property
    def gains(self) -> np.ndarray:
        """`[P]` float64 grade of each relevant pair (trec_eval's nDCG gain)."""
        if self.rel_grade is None:
            return np.ones(self.rel_query.size)
        return self.rel_grade.astype(np.float64)

    @functools.cached_property
    def several_relevant(self) -> bool:
        """Whether some query has more than one relevant document (mAP/nDCG need every rank)."""
        return bool(np.bincount(self.rel_query).max(initial=0) > 1)

    @property
    def gallery_size(self) -> int:
        """Number of distinct documents the qrels name (the denominator of nMR)."""
        return len(self.doc_ids)

    @functools.cached_property
    def scored_queries(self) -> np.ndarray:
        """Indices of the queries with at least one relevant document, ascending."""
        return np.flatnonzero(np.bincount(self.rel_query, minlength=len(self.query_ids)))

    @property
    def pair_key_space(self) -> int:
        """Number of possible (query, document) keys."""
        return len(self.query_ids) * self.gallery_size

    @property
    def bitmap_keys(self) -> bool:
        """Whether a boolean array over all pair keys is small enough to use (vs sorting)."""
        return self.pair_key_space <= BITMAP_MAX_KEYS

    def pair_keys(self, query: np.ndarray, doc: np.ndarray) -> np.ndarray:
        """One int64 per (query index, document index) pair: `query * gallery_size + doc`."""
        return query.astype(np.int64) * self.gallery_size + doc

    @functools.cached_property
    def relevant_keys(self) -> np.ndarray:
        """Sorted pair keys of the relevant pairs."""
        return np.sort(self.pair_keys(self.rel_query, self.rel_doc))

    @functools.cached_property
    def doc_order(self) -> np.ndarray:
        """Position of each document id in byte-wise string order (trec_eval's tie-break)."""
        encoded = [d.encode("utf-8") for d in self.doc_ids]
        order = np.empty(len(encoded), dtype=np.int64)
        order[sorted(range(len(encoded)), key=encoded.__getitem__)] = np.arange(len(encoded))
        return order


def reindexed(qrels: Qrels, like: Qrels) -> Qrels:
    """`qrels`' judgements over `like`'s id tables, so that a run parsed against `like` (whose
    indices refer to `like`) is scored against `qrels` without parsing it again.

    Raises:
        QrelsError: the two qrels do not name the same queries and documents.
    """
    if set(qrels.query_ids) != set(like.query_ids) or set(qrels.doc_ids) != set(like.doc_ids):
        raise QrelsError(
            qrels.path, 0, f"does not judge the same queries and documents as {like.path}"
        )
    query_index = {q: i for i, q in enumerate(like.query_ids)}
    doc_index = {d: i for i, d in enumerate(like.doc_ids)}
    query_map = np.array([query_index[q] for q in qrels.query_ids], dtype=np.int64)
    doc_map = np.array([doc_index[d] for d in qrels.doc_ids], dtype=np.int64)
    return Qrels(
        like.query_ids,
        like.doc_ids,
        query_map[qrels.rel_query],
        doc_map[qrels.rel_doc],
        qrels.path,
        qrels.rel_grade,
    )


def _check_id(path: str, line: int, kind: str, value: str) -> str:
    if not value or any(c.isspace() for c in value):
        raise QrelsError(path, line, f"{kind} {value!r} is empty or contains whitespace")
    return value


def read_qrels(path: str | os.PathLike[str]) -> Qrels:
    """Parse a TREC qrels file; a malformed line raises `QrelsError` with its line number."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise QrelsError(path, 0, f"cannot read ({exc.strerror or exc})") from None
    data = data.removeprefix(b"\xef\xbb\xbf")  # a UTF-8 byte-order mark, as run files allow
    queries: dict[str, int] = {}
    docs: dict[str, int] = {}
    seen: set[tuple[int, int]] = set()
    rel_q: list[int] = []
    rel_d: list[int] = []
    grades: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        fields = raw.split()
        if not fields:
            continue
        if len(fields) != 4:
            raise QrelsError(
                path, number, f"expected 4 columns 'qid 0 docid rel', got {len(fields)}"
            )
        try:
            qid, docid = fields[0].decode("utf-8"), fields[2].decode("utf-8")
        except UnicodeDecodeError:
            raise QrelsError(path, number, "ids must be UTF-8") from None
        if not _GRADE.fullmatch(fields[3]):
            raise QrelsError(path, number, "relevance must be an integer of at most 18 digits")
        rel = int(fields[3])
        q = queries.setdefault(qid, len(queries))
        d = docs.setdefault(docid, len(docs))
        if (q, d) in seen:
            raise QrelsError(path, number, f"pair ({qid}, {docid}) judged twice")
        seen.add((q, d))
        if rel > 0:
            rel_q.append(q)
            rel_d.append(d)
            grades.append(rel)
    if not rel_q:
        raise QrelsError(path, 1, "no relevant (rel > 0) judgement")
    grade = np.asarray(grades, np.int64)
    return Qrels(
        tuple(queries),
        tuple(docs),
        np.asarray(rel_q, np.int64),
        np.asarray(rel_d, np.int64),
        path,
        None if bool((grade == 1).all()) else grade,
    )


def qrels_lines(
    pairs: Iterable[tuple[str, str] | tuple[str, str, int]], path: str = "<qrels>"
) -> list[str]:
    """`(qid, docid)` or `(qid, docid, rel)` pairs as the TREC qrels lines `write_qrels` writes
    (`"qid 0 docid rel\\n"`, rel 1 when not given).

    Raises:
        QrelsError: an id that is empty or holds whitespace (named with `path` and its line).
    """
    lines: list[str] = []
    for number, pair in enumerate(pairs, start=1):
        qid, docid = (
            _check_id(path, number, kind, v)
            for kind, v in zip(("qid", "docid"), pair[:2], strict=True)
        )
        rel = int(pair[2]) if len(pair) > 2 else 1
        lines.append(f"{qid} 0 {docid} {rel}\n")
    return lines


def write_qrels(
    path: str | os.PathLike[str], pairs: Iterable[tuple[str, str] | tuple[str, str, int]]
) -> int:
    """Write `(qid, docid)` or `(qid, docid, rel)` pairs as TREC qrels, atomically.

    Returns the number of lines written. Ids must be non-empty and free of whitespace.
    """
    target = os.fspath(path)
    lines = qrels_lines(pairs, target)
    with atomic_write(target, "w") as handle:
        handle.writelines(lines)
    return len(lines)
