"""The near-duplicate groups of a dataset folder: `near_duplicates.json`.

`mrw clean` clusters clips by perceptual video hash (`mrw.curate.videohash`); with
`--keep-near-duplicates` the members of a cluster stay in the collection as separate ids,
and `mrw build` keeps each cluster inside one split and records the clusters here:

    {"format_version": 1, "groups": {"<group id>": ["<video id>", ...], ...}}

A group id is its earliest member's id (clean's rule); only groups of two or more videos are
listed, members and groups in sorted order, so the same clusters give the same bytes. The
file is what multi-positive qrels (`mrw.dataset.qrels`) and the harness's multi-positive
metrics read; a folder without it has no recorded groups.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from mrw.core.atomic import atomic_write
from mrw.dataset.schema import DatasetFormatError

NEAR_DUPLICATES_FILE = "near_duplicates.json"
FORMAT_VERSION = 1


def write_near_duplicates(folder: str | os.PathLike[str], group_of: Mapping[str, str]) -> Path:
    """Write `near_duplicates.json` atomically into a dataset folder.

    Args:
        folder: the dataset folder.
        group_of: video id -> its group id, for any set of videos (singletons are left out).
    Returns:
        The path written.
    """
    members: dict[str, list[str]] = {}
    for video_id, group in group_of.items():
        members.setdefault(group, []).append(video_id)
    groups = {g: sorted(ids) for g, ids in sorted(members.items()) if len(set(ids)) > 1}
    path = Path(folder) / NEAR_DUPLICATES_FILE
    with atomic_write(path, "w") as handle:
        json.dump({"format_version": FORMAT_VERSION, "groups": groups}, handle, indent=1)
        handle.write("\n")
    return path


def read_near_duplicates(folder: str | os.PathLike[str]) -> dict[str, str] | None:
    """The near-duplicate groups recorded in a dataset folder.

    Args:
        folder: the dataset folder.
    Returns:
        video id -> group id for every video in a group of two or more; None when the
        folder has no `near_duplicates.json` (no groups recorded).
    Raises:
        DatasetFormatError: the file cannot be read, is not this format, or lists a video in
            two groups.
    """
    path = Path(folder) / NEAR_DUPLICATES_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise DatasetFormatError(f"{path}: cannot read near-duplicate groups ({exc})") from None
    if not isinstance(data, dict) or data.get("format_version") != FORMAT_VERSION:
        raise DatasetFormatError(f"{path}: not a version-{FORMAT_VERSION} near-duplicates file")
    groups = data.get("groups")
    if not isinstance(groups, dict):
        raise DatasetFormatError(f"{path}: 'groups' must map a group id to its video ids")
    group_of: dict[str, str] = {}
    for group, members in groups.items():
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise DatasetFormatError(f"{path}: group {group!r} must list video ids (strings)")
        for video_id in members:
            if group_of.setdefault(video_id, group) != group:
                raise DatasetFormatError(
                    f"{path}: video {video_id!r} is in two groups "
                    f"({group_of[video_id]!r} and {group!r})"
                )
    return group_of
