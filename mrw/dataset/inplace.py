"""Load a local MRW-format folder in place: one copy on disk, media read on access.

`datasets.load_dataset(DIR)` converts every parquet shard, media bytes included, into Arrow
files in its cache, so a prepared dataset takes twice its size on disk. Here only the small
columns (ids, sentences, metadata) are read into memory; the media bytes stay in the parquet
shards. Each row's `video` is `{"bytes": None, "path": "<shard>#<row>"}`, a locator that
`read_media` resolves when the row's frames are decoded: it reads that row's row group
(`mrw.dataset.writer.ROW_GROUP_ROWS` rows, one column) and keeps the last few row groups of each
process in memory, so sequential reads touch each row group once.
"""

from __future__ import annotations

import bisect
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import datasets

LOCATOR_SEPARATOR = "#"
MEDIA_COLUMN = "video"
CACHED_ROW_GROUPS = 4  # per process (each DataLoader worker has its own)


class MediaLocatorError(ValueError):
    """A `shard#row` locator that does not name a row of a shard under the dataset root."""


def locator(shard: str, row: int) -> str:
    """`shard#row`: row `row` (0-based, within the shard) of `shard` (relative to the root)."""
    return f"{shard}{LOCATOR_SEPARATOR}{row}"


def is_locator(path: str | None) -> bool:
    """Whether a `video.path` value is a `shard#row` locator (not a media file's path)."""
    return bool(path) and LOCATOR_SEPARATOR in path and path.split(LOCATOR_SEPARATOR)[-1].isdigit()


def load_split(
    root: str | os.PathLike[str], shards: Sequence[Path], split: str
) -> datasets.Dataset:
    """One split of a local folder as an in-memory `datasets.Dataset` without media bytes.

    Args:
        root: the dataset folder (locators are relative to it).
        shards: the split's parquet shards, in order (`mrw.dataset.split_files`).
        split: the split's name.
    Returns:
        A Dataset with the shards' columns and features; `video.bytes` is null and
        `video.path` a `shard#row` locator for `read_media`.
    Raises:
        KeyError: a shard has no `video` column.
        pyarrow.ArrowInvalid: a shard is not readable parquet.
    """
    import datasets
    from datasets.table import InMemoryTable

    root = Path(root)
    tables = []
    schema: pa.Schema | None = None
    for path in shards:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        if MEDIA_COLUMN not in schema.names:
            raise KeyError(MEDIA_COLUMN)
        small = parquet.read(columns=[n for n in schema.names if n != MEDIA_COLUMN])
        name = path.relative_to(root).as_posix()
        media = pa.StructArray.from_arrays(
            [
                pa.nulls(small.num_rows, pa.binary()),
                pa.array([locator(name, row) for row in range(small.num_rows)], pa.string()),
            ],
            names=["bytes", "path"],
        )
        columns = [
            media if field.name == MEDIA_COLUMN else small.column(field.name) for field in schema
        ]
        tables.append(pa.Table.from_arrays(columns, schema=_media_schema(schema)))
    if schema is None:
        raise ValueError(f"{root}: no shard for split {split!r}")
    features = datasets.Features.from_arrow_schema(schema)
    return datasets.Dataset(
        InMemoryTable(pa.concat_tables(tables)),
        info=datasets.DatasetInfo(features=features),
        split=datasets.NamedSplit(split),
    )


def _media_schema(schema: pa.Schema) -> pa.Schema:
    """`schema` with the media column as `struct<bytes: binary, path: string>`."""
    media = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    index = schema.get_field_index(MEDIA_COLUMN)
    return schema.set(index, pa.field(MEDIA_COLUMN, media))


def read_media(root: str | os.PathLike[str], media_locator: str) -> dict[str, bytes | str | None]:
    """The stored `video` value (`{"bytes", "path"}`) of the row a `shard#row` locator names.

    Raises:
        MediaLocatorError: the locator is malformed, leaves `root`, or names no row.
    """
    shard, _, row_text = media_locator.rpartition(LOCATOR_SEPARATOR)
    path = (Path(root) / shard).resolve()
    if not row_text.isdigit() or not path.is_relative_to(Path(root).resolve()):
        raise MediaLocatorError(f"bad media locator {media_locator!r}")
    starts = _row_group_starts(str(path))
    row = int(row_text)
    if row >= starts[-1]:
        raise MediaLocatorError(f"{media_locator!r}: the shard has {starts[-1]} rows")
    group = bisect.bisect_right(starts, row) - 1
    return _media_values(str(path), group)[row - starts[group]].as_py()


@functools.lru_cache(maxsize=256)
def _row_group_starts(path: str) -> list[int]:
    """First row of each row group, then the shard's row count."""
    metadata = pq.ParquetFile(path).metadata
    starts = [0]
    for group in range(metadata.num_row_groups):
        starts.append(starts[-1] + metadata.row_group(group).num_rows)
    return starts


@functools.lru_cache(maxsize=CACHED_ROW_GROUPS)
def _media_values(path: str, group: int) -> pa.Array:
    table = pq.ParquetFile(path).read_row_group(group, columns=[MEDIA_COLUMN])
    return table.column(MEDIA_COLUMN).combine_chunks()
