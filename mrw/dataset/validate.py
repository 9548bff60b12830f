"""Checks a dataset folder before anything reads it: complete, and every shard within limits.

A folder comes from a build, an import, a download or a stranger, so nothing in it is read
before these checks pass, and each failure is one line naming the file:

- complete: the dataset card (`README.md`) is the last file a build writes, so a folder
  without it was left by an interrupted write (or is not a dataset);
- each shard is parquet (magic bytes, a footer of sane size) with the MRW schema (the
  columns and Arrow types of `COLUMN_TYPES`);
- values are bounded: per row group, each text column holds at most `MAX_TEXT_BYTES` per row
  and the media column at most `MAX_MEDIA_BYTES` per row (uncompressed, from the footer,
  so a 36 KB shard holding one 512 MiB sentence is refused before it is decompressed);
- the rows per split agree with the card's `dataset_info`.

Only footers are read (a few KB per shard), and a shard's verdict is cached by path, size
and modification time. `mrw.dataset.reader.check_folder` runs them all on a folder.
"""

from __future__ import annotations

import functools
import os
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mrw.catalog import CARD_FILE, card_header  # the card is written last: the completion marker
from mrw.dataset.schema import COLUMN_TYPES, DatasetFormatError

MAX_FOOTER_BYTES = 16 << 20
MAX_TEXT_BYTES = 64 << 10  # per value of a text column (a sentence, an id, a URL)
MAX_MEDIA_BYTES = 256 << 20  # per media value
_ARROW_TYPES = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "video": pa.struct([("bytes", pa.binary()), ("path", pa.string())]),
}
_MAGIC = b"PAR1"


def check_complete(root: str | os.PathLike[str]) -> None:
    """Raise `DatasetFormatError` if `root` has no dataset card (an interrupted write)."""
    folder = Path(root)
    if not (folder / CARD_FILE).is_file():
        raise DatasetFormatError(
            f"{folder}: incomplete dataset folder (no {CARD_FILE}, the file a build, import or "
            "download writes last): it was interrupted; run it again"
        )


def check_shard(path: Path) -> int:
    """Validate one parquet shard (see the module docstring); returns its number of rows.

    Raises:
        DatasetFormatError: not parquet, a footer over `MAX_FOOTER_BYTES`, a schema that is not
            the MRW schema, or values over the size limits.
    """
    try:
        stat = path.stat()
    except OSError as exc:
        raise DatasetFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return _check_shard(str(path), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _check_shard(path: str, size: int, mtime_ns: int) -> int:
    del mtime_ns  # part of the cache key only
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
            handle.seek(max(size - 8, 0))
            tail = handle.read(8)
    except OSError as exc:
        raise DatasetFormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size < 12 or head != _MAGIC or tail[4:] != _MAGIC:
        raise DatasetFormatError(f"{path}: not a parquet file")
    (footer,) = struct.unpack("<I", tail[:4])
    if footer > min(MAX_FOOTER_BYTES, size - 12):
        raise DatasetFormatError(f"{path}: parquet footer of {footer:,} bytes is not credible")
    try:
        metadata = pq.ParquetFile(path).metadata
        schema = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError, ValueError) as exc:
        message = " ".join(str(exc).split())[:200]
        raise DatasetFormatError(f"{path}: unreadable parquet ({message})") from None
    _check_schema(path, schema)
    _check_sizes(path, metadata)
    return metadata.num_rows


def _check_schema(path: str, schema: pa.Schema) -> None:
    for name, dtype in COLUMN_TYPES.items():
        index = schema.get_field_index(name)
        if index < 0:
            raise DatasetFormatError(f"{path}: no column {name!r}; not an MRW-format shard")
        if schema.field(index).type != _ARROW_TYPES[dtype]:
            raise DatasetFormatError(
                f"{path}: column {name!r} is {schema.field(index).type}, expected "
                f"{_ARROW_TYPES[dtype]}"
            )


def _check_sizes(path: str, metadata: pq.FileMetaData) -> None:
    for group_index in range(metadata.num_row_groups):
        group = metadata.row_group(group_index)
        for column_index in range(group.num_columns):
            column = group.column(column_index)
            name = column.path_in_schema.split(".")[0]
            per_value = MAX_MEDIA_BYTES if name == "video" else MAX_TEXT_BYTES
            if column.total_uncompressed_size > max(group.num_rows, 1) * per_value + (1 << 16):
                raise DatasetFormatError(
                    f"{path}: column {name!r} holds {column.total_uncompressed_size:,} bytes "
                    f"for {group.num_rows} rows (limit {per_value:,} per value)"
                )


def card_counts(root: Path) -> dict[str, dict[str, int]]:
    """Rows per split per config as the card's `dataset_info` states them (empty if absent)."""
    try:
        header = card_header(root)
    except ValueError as exc:
        raise DatasetFormatError(str(exc)) from None
    infos = header.get("dataset_info")
    if isinstance(infos, dict):
        infos = [infos]
    counts: dict[str, dict[str, int]] = {}
    for info in infos if isinstance(infos, list) else []:
        if isinstance(info, dict) and isinstance(info.get("splits"), list):
            config = str(info.get("config_name", "default"))
            counts[config] = {
                str(s.get("name")): _count(root, config, s)
                for s in info["splits"]
                if isinstance(s, dict)
            }
    return counts


def _count(root: Path, config: str, split: dict) -> int | None:
    """A split's `num_examples` (None if absent); anything but a whole number is an error."""
    value = split.get("num_examples")
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        return value
    raise DatasetFormatError(
        f"{root / CARD_FILE}: {config}/{split.get('name')} num_examples "
        f"{str(value)[:40]!r} is not a whole number"
    )
