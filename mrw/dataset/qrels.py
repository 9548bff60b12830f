"""TREC qrels of a dataset split: `t2v.qrels` (sentence -> its video) and `v2t.qrels` (video
-> its sentences), the ground truth the leaderboard scores run files against."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mrw.dataset.loader import resolve
from mrw.dataset.reader import read_table
from mrw.dataset.schema import DatasetNotFoundError

QRELS_DIR = "qrels"
"""A built folder's per-split qrels: `qrels/{split}/t2v.qrels` and `v2t.qrels`."""


def _ids(dataset: Any, split: str) -> tuple[list[str], list[str]]:
    """(sentence ids, video ids) of one split of a name, folder, Dataset or DatasetDict."""
    if isinstance(dataset, (str, os.PathLike)):
        table = read_table(resolve(dataset), split, ("id", "video_id"))
        return table.column("id").to_pylist(), table.column("video_id").to_pylist()
    if isinstance(dataset, Mapping):  # a DatasetDict
        if split not in dataset:
            raise DatasetNotFoundError(f"no split {split!r} (has {', '.join(dataset)})")
        dataset = dataset[split]
    plain = dataset.select_columns(["id", "video_id"]).with_format(None)
    return plain["id"], plain["video_id"]


def export_qrels(dataset: Any, split: str, out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write TREC qrels `t2v.qrels` (sentence -> video) and `v2t.qrels` (video -> sentences).

    `dataset` is a name, a folder, a `Dataset` or a `DatasetDict`. Returns both paths.
    """
    from leaderboard.qrels import write_qrels

    out = Path(out_dir)
    paths = {"t2v": out / "t2v.qrels", "v2t": out / "v2t.qrels"}
    for direction, pairs in qrels_pairs(*_ids(dataset, split)).items():
        write_qrels(paths[direction], pairs)
    return paths


def qrels_pairs(sentence_ids: list[str], video_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """The judged pairs of a split's two qrels files, in the order they are written.

    Args:
        sentence_ids: the split's sentence ids, in split order.
        video_ids: the video of each sentence (same length).
    Returns:
        `{"t2v": [(sentence, its video)] in split order, "v2t": [(video, sentence)] grouped
        by video in order of first appearance}`.
    """
    by_video: dict[str, list[str]] = {}
    for sentence_id, video_id in zip(sentence_ids, video_ids, strict=True):
        by_video.setdefault(video_id, []).append(sentence_id)
    return {
        "t2v": list(zip(sentence_ids, video_ids, strict=True)),
        "v2t": [(v, s) for v, ss in by_video.items() for s in ss],
    }


def write_split_qrels(dataset_dir: str | Path, splits: Iterable[str]) -> None:
    """`qrels/{split}/t2v.qrels` and `v2t.qrels` for each split, from the rows with a sentence.

    Rows with an empty sentence (videos of a release that gives no caption for them) are not
    queries and relevant to nothing, so they stay out of the qrels.
    """
    import datasets
    import pyarrow.compute as pc

    root = Path(dataset_dir)
    for split in splits:
        table = read_table(root, split, ("id", "video_id", "sentence"))
        table = table.filter(pc.fill_null(pc.not_equal(table.column("sentence"), ""), False))
        if table.num_rows == 0:
            continue
        ids = datasets.Dataset(table.select(["id", "video_id"]))
        export_qrels(ids, split, root / QRELS_DIR / split)
