"""Reading a built folder without decoding: its shards per split, columns as Arrow tables,
and rows as `VideoRow`s (media included, e.g. to rebuild or re-hydrate)."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mrw.catalog import SPLITS
from mrw.dataset.schema import (
    CONFIG_DIRS,
    ROW_GROUP_ROWS,
    DatasetFormatError,
    DatasetNotFoundError,
    VideoRow,
)
from mrw.dataset.validate import card_counts, check_complete, check_shard


def split_files(
    directory: str | os.PathLike[str], config: str | None = None
) -> dict[str, list[Path]]:
    """Parquet shards per split of a built folder (`config` None: `default`, else `urls`).

    Each shard is validated first (`mrw.dataset.validate.check_shard`: parquet, MRW schema,
    value sizes); the folder's completeness is `check_folder`'s job.

    Raises:
        DatasetNotFoundError: not a folder, or no shards.
        DatasetFormatError: an unknown config, or a shard that fails validation.
    """
    root = Path(directory)
    if not root.is_dir():
        raise DatasetNotFoundError(f"{root}: not a local dataset folder")
    candidates = [config] if config else list(CONFIG_DIRS)
    for name in candidates:
        if name not in CONFIG_DIRS:
            raise DatasetFormatError(
                f"unknown config {name!r}; expected one of {sorted(CONFIG_DIRS)}"
            )
        files = sorted((root / CONFIG_DIRS[name]).glob("*-of-*.parquet"))
        for path in files:
            check_shard(path)
        if files:
            by_split: dict[str, list[Path]] = {}
            for path in files:
                by_split.setdefault(path.name.split("-")[0], []).append(path)
            return dict(sorted(by_split.items(), key=lambda kv: _split_order(kv[0])))
    raise DatasetNotFoundError(f"{root}: no MRW-format parquet shards (data/ or urls/) found")


def check_folder(directory: str | os.PathLike[str]) -> None:
    """Validate a dataset folder before it is opened: its card (the completion marker), every
    shard (`check_shard`), and the rows per split against the card's `dataset_info`.

    Raises:
        DatasetNotFoundError: not a folder, or a folder without shards.
        DatasetFormatError: an incomplete folder, a bad shard, or counts that disagree.
    """
    root = Path(directory)
    split_files(root)  # a folder without shards is no dataset (rather than an incomplete one)
    check_complete(root)
    stated = card_counts(root)
    for config, folder in CONFIG_DIRS.items():
        if not any((root / folder).glob("*-of-*.parquet")):
            continue
        for split, shards in split_files(root, config).items():
            rows = sum(check_shard(path) for path in shards)  # cached: no second read
            expected = stated.get(config, {}).get(split)
            if expected is not None and expected != rows:
                raise DatasetFormatError(
                    f"{root}: {config}/{split} has {rows:,} rows, its card says {expected:,}"
                )


def _split_order(split: str) -> tuple[int, str]:
    return (SPLITS.index(split) if split in SPLITS else len(SPLITS), split)


def read_table(
    directory: str | os.PathLike[str],
    split: str,
    columns: Sequence[str] = ("id", "video_id", "sentence"),
    config: str | None = None,
) -> pa.Table:
    """The given columns of one split as an Arrow table, without touching media bytes."""
    files = split_files(directory, config)
    if split not in files:
        raise DatasetNotFoundError(f"{directory}: no split {split!r} (has {', '.join(files)})")
    try:
        return pa.concat_tables(pq.read_table(path, columns=list(columns)) for path in files[split])
    except (pa.ArrowException, OSError, KeyError) as exc:
        message = " ".join(str(exc).split())[:200]
        raise DatasetFormatError(f"{directory}: unreadable {split} shards ({message})") from None


def iter_rows(
    directory: str | os.PathLike[str], split: str, config: str | None = None
) -> Iterator[VideoRow]:
    """Rows of a built folder as `VideoRow`s (media included), e.g. to rebuild or re-hydrate."""
    for path in split_files(directory, config).get(split, []):
        batches = pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS)
        while True:
            try:  # one row group at a time: media is streamed, never a whole shard in memory
                batch = next(batches, None)
            except (pa.ArrowException, OSError) as exc:
                message = " ".join(str(exc).split())[:200]
                raise DatasetFormatError(f"{path}: unreadable ({message})") from None
            if batch is None:
                break
            for record in batch.to_pylist():
                video = record.pop("video") or {}
                yield VideoRow(
                    video_bytes=video.get("bytes"), video_path=video.get("path"), **record
                )
