"""Per-query results kept server-side for the board's paired tests (never served).

A scored submission stores the first relevant rank of every scored query of both directions,
aligned with the truth's scored-query order, and the map from each text query to its video
query (the pairing `compare` uses), as one zlib-compressed JSON document in
`submissions.query_ranks`. A hidden split's truth cannot be read back from them by a team:
nothing here leaves the server, only the test's p-value and interval do.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import numpy as np

from leaderboard.qrels import Qrels
from leaderboard.significance import pair_shares, query_shares

FORMAT = 1


def pair_map(t2v: Qrels, v2t: Qrels) -> np.ndarray | None:
    """Each scored text query's video, as a position among the scored video queries.

    Defined when every scored text-to-video query has exactly one relevant video and that
    video is a scored video-to-text query (one-positive truth, MRW's and the toy set's);
    otherwise None, and the test counts each query as its own observation (`shares`).

    Returns:
        int64 `[Nt scored]` indices into the scored video queries, or None.
    """
    counts = np.bincount(t2v.rel_query, minlength=len(t2v.query_ids))
    scored = t2v.scored_queries
    if np.any(counts[scored] != 1):
        return None
    doc_of_query = np.empty(len(t2v.query_ids), dtype=np.int64)
    doc_of_query[t2v.rel_query] = t2v.rel_doc
    position = {v2t.query_ids[q]: i for i, q in enumerate(v2t.scored_queries.tolist())}
    videos = [position.get(t2v.doc_ids[d]) for d in doc_of_query[scored].tolist()]
    if any(v is None for v in videos):
        return None
    return np.asarray(videos, dtype=np.int64)


def pack(t2v_ranks: np.ndarray, v2t_ranks: np.ndarray, videos: np.ndarray | None) -> bytes:
    """The stored form of a submission's per-query ranks (see the module docstring).

    Args:
        t2v_ranks, v2t_ranks: int first relevant ranks (0 = not found) per scored query.
        videos: `pair_map` of the truth, or None.
    """
    document = {
        "format": FORMAT,
        "t2v": np.asarray(t2v_ranks).tolist(),
        "v2t": np.asarray(v2t_ranks).tolist(),
        "t2v_video": None if videos is None else np.asarray(videos).tolist(),
    }
    return zlib.compress(json.dumps(document, separators=(",", ":")).encode(), 6)


def unpack(blob: bytes) -> dict[str, Any]:
    """`pack`'s document: `{"t2v": int64 [Nt], "v2t": int64 [Nv], "t2v_video": int64 | None}`."""
    document = json.loads(zlib.decompress(blob))
    return {
        "t2v": np.asarray(document["t2v"], dtype=np.int64),
        "v2t": np.asarray(document["v2t"], dtype=np.int64),
        "t2v_video": None
        if document["t2v_video"] is None
        else np.asarray(document["t2v_video"], dtype=np.int64),
    }


def shares(blob: bytes) -> np.ndarray:
    """The observations of the paired test: per-pair shares of rsum
    (`leaderboard.significance.pair_shares`) when the truth pairs text and video queries,
    else every query's share as its own observation (text queries, then video queries). Both
    sum to the submission's rsum.

    Returns:
        float64 `[Nv]` (paired) or `[Nt + Nv]`.
    """
    ranks = unpack(blob)
    if ranks["t2v_video"] is not None:
        return pair_shares(ranks["t2v"], ranks["v2t"], ranks["t2v_video"])
    return np.concatenate([query_shares(ranks["t2v"]), query_shares(ranks["v2t"])])
