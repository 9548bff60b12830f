"""TREC qrels of a dataset split: `t2v.qrels` (sentence -> its video) and `v2t.qrels` (video
-> its sentences), the ground truth the leaderboard scores run files against.

One-positive (the default): a sentence's only relevant video is its own. Multi-positive
(`multi_positive_pairs`): near-duplicate clips (`mrw.dataset.near_duplicates`) are separate
ids of the same reaction, so a sentence's relevant videos are its own and that video's
near-duplicates in the same split, and a video's relevant sentences are those of it and of
its near-duplicates. Every judgement has relevance grade 1.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mrw.dataset.loader import resolve
from mrw.dataset.near_duplicates import NEAR_DUPLICATES_FILE, read_near_duplicates
from mrw.dataset.reader import read_table, split_files
from mrw.dataset.schema import DatasetFormatError, DatasetNotFoundError

QRELS_DIR = "qrels"
"""A built folder's per-split qrels: `qrels/{split}/t2v.qrels` and `v2t.qrels`."""
MULTI_POSITIVE_DIR = "multi-positive"
"""Beside a split's one-positive qrels: `multi-positive/t2v.qrels` and `v2t.qrels`."""

Pairs = list[tuple[str, str]]


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


def multi_positive_pairs(
    sentence_ids: Sequence[str], video_ids: Sequence[str], group_of: Mapping[str, str] | None
) -> dict[str, Pairs]:
    """The relevant (query, document) pairs of one split, per direction.

    Args:
        sentence_ids, video_ids: the split's rows: sentence i shows video `video_ids[i]`.
        group_of: video id -> near-duplicate group id (`read_near_duplicates`); None, or a
            video it does not name, means no near-duplicates (one-positive).
    Returns:
        `{"t2v": [(sentence, video), ...], "v2t": [(video, sentence), ...]}`: a sentence's
        own video first, then the other videos of its group in this split (first-appearance
        order); a video's sentences, then those of the other videos of its group. Without
        groups these are exactly the one-positive pairs.
    """
    group_of = group_of or {}
    by_video: dict[str, list[str]] = {}
    for sentence_id, video_id in zip(sentence_ids, video_ids, strict=True):
        by_video.setdefault(video_id, []).append(sentence_id)
    members: dict[str, list[str]] = {}
    for video_id in by_video:
        members.setdefault(group_of.get(video_id, video_id), []).append(video_id)

    def alike(video_id: str) -> list[str]:  # the video, then its near-duplicates in the split
        group = members[group_of.get(video_id, video_id)]
        return [video_id, *(v for v in group if v != video_id)]

    return {
        "t2v": [(s, v) for s, own in zip(sentence_ids, video_ids, strict=True) for v in alike(own)],
        "v2t": [(v, s) for v in by_video for other in alike(v) for s in by_video[other]],
    }


def export_qrels(
    dataset: Any,
    split: str,
    out_dir: str | os.PathLike[str],
    *,
    multi_positive: bool = False,
    groups: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write TREC qrels `t2v.qrels` (sentence -> video) and `v2t.qrels` (video -> sentences).

    Args:
        dataset: a name, a folder, a `Dataset` or a `DatasetDict`.
        split: the split to export.
        out_dir: the folder to write into.
        multi_positive: also count near-duplicates as relevant (`multi_positive_pairs`).
        groups: video id -> group id; default: the dataset folder's `near_duplicates.json`.
    Returns:
        Both paths, by direction.
    Raises:
        DatasetFormatError: `multi_positive` for a dataset that records no near-duplicate
            groups (and no `groups` given).
    """
    from leaderboard.qrels import write_qrels

    sentence_ids, video_ids = _ids(dataset, split)
    if multi_positive and groups is None:
        groups = recorded_groups(dataset)
    pairs = multi_positive_pairs(sentence_ids, video_ids, groups if multi_positive else None)
    out = Path(out_dir)
    paths = {"t2v": out / "t2v.qrels", "v2t": out / "v2t.qrels"}
    for direction, path in paths.items():
        write_qrels(path, pairs[direction])
    return paths


def recorded_groups(dataset: Any) -> Mapping[str, str]:
    """The near-duplicate groups (video id -> group id) of a dataset name or folder.

    Raises:
        DatasetFormatError: an in-memory dataset, or a folder without `near_duplicates.json`.
    """
    if not isinstance(dataset, (str, os.PathLike)):
        raise DatasetFormatError("multi-positive qrels of an in-memory dataset need its groups")
    folder = resolve(dataset)
    groups = read_near_duplicates(folder)
    if groups is None:
        raise DatasetFormatError(
            f"{dataset} records no near-duplicate groups ({NEAR_DUPLICATES_FILE}): build it "
            "with `mrw clean --keep-near-duplicates` then `mrw build` for multi-positive qrels"
        )
    return groups


def group_problems(dataset: str | os.PathLike[str], groups: Mapping[str, str]) -> list[str]:
    """What is wrong with a folder's near-duplicate groups, one line each (empty when
    nothing is): videos the dataset does not hold (ignored by the qrels), and groups whose
    videos lie in more than one split (look-alikes across train and test: a leak the split
    was meant to prevent; each split's qrels keep only its own members).

    Args:
        dataset: a dataset name or folder (its splits are read, ids only).
        groups: video id -> group id (`recorded_groups`).
    """
    folder = resolve(dataset)
    split_of: dict[str, str] = {}
    for split in split_files(folder, None):
        for video_id in read_table(folder, split, ("video_id",)).column("video_id").to_pylist():
            split_of.setdefault(video_id, split)
    unknown = sorted(v for v in groups if v not in split_of)
    spans: dict[str, set[str]] = {}
    for video_id, group in groups.items():
        if video_id in split_of:
            spans.setdefault(group, set()).add(split_of[video_id])
    crossing = sorted(g for g, splits in spans.items() if len(splits) > 1)
    problems = []
    if unknown:
        problems.append(
            f"{len(unknown)} grouped video id(s) are not in the dataset (ignored), e.g. "
            f"{unknown[0]!r}"
        )
    if crossing:
        problems.append(
            f"{len(crossing)} near-duplicate group(s) span more than one split (look-alikes "
            f"across splits), e.g. group {crossing[0]!r} in {', '.join(sorted(spans[crossing[0]]))}"
        )
    return problems


def write_split_qrels(dataset_dir: str | Path, splits: Iterable[str]) -> None:
    """`qrels/{split}/t2v.qrels` and `v2t.qrels` for each split, from the rows with a sentence.

    Rows with an empty sentence (videos of a release that gives no caption for them) are not
    queries and relevant to nothing, so they stay out of the qrels. When the folder records
    near-duplicate groups (`near_duplicates.json`) and a split holds one, its multi-positive
    qrels go beside them, in `qrels/{split}/multi-positive/`.
    """
    import datasets
    import pyarrow.compute as pc

    root = Path(dataset_dir)
    groups = read_near_duplicates(root)
    for split in splits:
        table = read_table(root, split, ("id", "video_id", "sentence"))
        table = table.filter(pc.fill_null(pc.not_equal(table.column("sentence"), ""), False))
        if table.num_rows == 0:
            continue
        ids = datasets.Dataset(table.select(["id", "video_id"]))
        export_qrels(ids, split, root / QRELS_DIR / split)
        videos = set(table.column("video_id").to_pylist())
        grouped = [groups[v] for v in videos if groups and v in groups]
        if len(grouped) > len(set(grouped)):  # some group has two members in this split
            out = root / QRELS_DIR / split / MULTI_POSITIVE_DIR
            export_qrels(ids, split, out, multi_positive=True, groups=groups)
