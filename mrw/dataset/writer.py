"""Building an MRW-format dataset folder: streamed, size-bounded, byte-reproducible parquet
shards per split and config, plus the dataset card, written atomically.

A built dataset is a plain Hugging Face dataset folder, loadable with
`datasets.load_dataset(DIR)` and no project code:

    README.md                                  dataset card: YAML `configs` + `dataset_info`
    data/{split}-NNNNN-of-NNNNN.parquet        config `default`: media bytes in the `video` column
    urls/{split}-NNNNN-of-NNNNN.parquet        config `urls`: the same rows, `video` null

The `urls` config is the redistributable form (no media, only `media_url` + `sha256`);
`mrw download` re-hydrates it into `default`. A folder may hold either config or both; the
first one written is the card's default. Parquet files are written with fixed settings and
no timestamps, so the same rows always give byte-identical files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence, Sized
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mrw.core.atomic import OutputPathError, atomic_dir, check_output_path, is_empty_dir
from mrw.core.untrusted import is_safe_id
from mrw.dataset.card import dataset_card
from mrw.dataset.schema import CONFIG_DIRS, ROW_GROUP_ROWS, DatasetFormatError, VideoRow, features
from mrw.dataset.validate import CARD_FILE

MAX_SHARD_BYTES = 512 * 1024 * 1024
ROW_OVERHEAD_BYTES = 256  # metadata columns of a row, for sizing shards before writing them


@dataclass
class _SplitWriter:
    """Streams rows of one split and config into size-bounded parquet shards."""

    directory: Path
    split: str
    schema: pa.Schema
    with_media: bool
    max_shard_bytes: int
    shards: list[Path] = field(default_factory=list)
    num_rows: int = 0
    num_bytes: int = 0
    _pending: list[dict[str, Any]] = field(default_factory=list)
    _pending_bytes: int = 0

    def add(self, row: VideoRow) -> None:
        record = row.to_record(with_media=self.with_media)
        size = ROW_OVERHEAD_BYTES + len(row.sentence)
        if self.with_media:
            size += len(row.video_bytes or b"")
        if self._pending and self._pending_bytes + size > self.max_shard_bytes:
            self.flush()
        self._pending.append(record)
        self._pending_bytes += size
        self.num_rows += 1

    def flush(self) -> None:
        if self._pending:
            self._write(pa.Table.from_pylist(self._pending, schema=self.schema))
            self._pending, self._pending_bytes = [], 0

    def _write(self, table: pa.Table) -> None:
        path = self.directory / f".{self.split}-{len(self.shards):05d}.parquet"
        _write_parquet(table, path)
        self.shards.append(path)
        self.num_bytes += path.stat().st_size

    def finish(self) -> list[Path]:
        """Flush and give the shards their final `{split}-NNNNN-of-NNNNN.parquet` names."""
        self.flush()
        if not self.shards:  # an empty split still gets one (empty) shard, so it loads
            self._write(self.schema.empty_table())
        total = len(self.shards)
        final = []
        for index, path in enumerate(self.shards):
            target = self.directory / f"{self.split}-{index:05d}-of-{total:05d}.parquet"
            os.replace(path, target)
            final.append(target)
        return final


def _write_parquet(table: pa.Table, path: Path) -> None:
    """Fixed writer settings: the same table always gives the same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        table,
        path,
        row_group_size=ROW_GROUP_ROWS,
        compression="zstd",
        compression_level=3,
        use_dictionary=["source"],
        write_statistics=["id", "video_id", "created_utc"],
        store_schema=True,
    )


def _validate_split_name(split: str) -> None:
    if not re.fullmatch(r"\w+", split):
        raise DatasetFormatError(f"invalid split name {split!r}: use letters, digits and _")


def _check_row(row: VideoRow, split: str, configs: Sequence[str], seen: set[str]) -> None:
    if not isinstance(row, VideoRow):
        raise DatasetFormatError(f"split {split!r}: expected VideoRow, got {type(row).__name__}")
    if not is_safe_id(row.id) or any(c.isspace() for c in row.id):
        raise DatasetFormatError(
            f"split {split!r}: invalid id {row.id[:60]!r} (a plain name: no spaces, '/', "
            "'\\', '..' or control characters)"
        )
    if not is_safe_id(row.video_id) or any(c.isspace() for c in row.video_id):
        raise DatasetFormatError(f"row {row.id}: invalid video_id {row.video_id[:60]!r}")
    if row.id in seen:
        raise DatasetFormatError(f"split {split!r}: duplicate id {row.id!r}")
    seen.add(row.id)
    if "default" in configs and not row.video_bytes:
        raise DatasetFormatError(
            f"row {row.id}: no media bytes; the default config needs them "
            "(build with configs=('urls',) for a URL-only dataset)"
        )
    if "default" not in configs and not row.media_url:
        raise DatasetFormatError(f"row {row.id}: no media_url; a URL-only dataset needs one")


def build_dataset(
    splits: Mapping[str, Iterable[VideoRow]],
    out_dir: str | os.PathLike[str],
    *,
    configs: Sequence[str] = ("default",),
    pretty_name: str = "MRW",
    description: str = "",
    card_metadata: Mapping[str, Any] | None = None,
    max_shard_bytes: int = MAX_SHARD_BYTES,
    progress: bool = False,
    finish: Callable[[Path], None] | None = None,
) -> Path:
    """Write an MRW-format dataset folder (parquet shards + dataset card) atomically.

    `configs` picks what is written: `default` (rows with media bytes) and/or `urls` (the
    same rows without bytes, for redistribution); the first is the card's default config.
    `description` is markdown placed in the card under the generated schema section (e.g.
    the datasheet). `card_metadata` adds Hub card fields (`license`, `language`, ...) to
    the YAML header. Rows are streamed: a split may be a generator over many GB of media.
    A row without `media_url` (e.g. an original-release item whose media is only local)
    is written with a null URL; the card says how many there are.

    The folder is written whole under a temporary name and swapped into place: `finish`, if
    given, is called with that temporary folder once the shards are written, to add files
    that belong to the result (qrels, a report); the card is written last, as the completion
    marker `mrw.dataset.reader.check_folder` requires. An existing `out_dir` is replaced only
    if it is a dataset folder (or empty); a file or another folder there is refused.

    Raises:
        DatasetFormatError: bad configs, split names or rows (nothing is left behind).
        OutputPathError: `out_dir` is a file or a folder that is not a dataset.
    """
    configs = tuple(configs)
    if not configs or set(configs) - set(CONFIG_DIRS) or len(set(configs)) != len(configs):
        raise DatasetFormatError(
            f"configs must be a subset of {sorted(CONFIG_DIRS)}, got {configs}"
        )
    feats = features()
    schema = feats.arrow_schema
    counts: dict[str, dict[str, tuple[int, int]]] = {config: {} for config in configs}
    without_url = 0
    with atomic_dir(out_dir, replaceable=_is_dataset_or_empty) as tmp:
        for split, rows in splits.items():
            _validate_split_name(split)
            writers = [
                _SplitWriter(
                    tmp / CONFIG_DIRS[config], split, schema, config == "default", max_shard_bytes
                )
                for config in configs
            ]
            seen: set[str] = set()
            for row in _progress(rows, progress, f"writing {split}"):
                _check_row(row, split, configs, seen)
                without_url += not row.media_url
                for writer in writers:
                    writer.add(row)
            for config, writer in zip(configs, writers, strict=True):
                writer.finish()
                counts[config][split] = (writer.num_rows, writer.num_bytes)
        if "urls" in configs and without_url:
            description = (
                f"{without_url:,} rows have no `media_url` (null in the `urls` config): their "
                "media is only in the `default` config.\n\n" + description
            )
        if finish is not None:
            finish(tmp)
        card = dataset_card(feats, counts, pretty_name, description, card_metadata or {})
        (tmp / CARD_FILE).write_text(card, encoding="utf-8")
    return Path(out_dir)


def check_dataset_output(out_dir: str | os.PathLike[str]) -> Path:
    """Check, before reading any input, that `build_dataset` may write `out_dir`.

    Raises:
        OutputPathError: `out_dir` is a file, a folder that is not a dataset folder, or a path
            that cannot be written.
    """
    target = check_output_path(out_dir, folder=True)
    if target.exists() and not _is_dataset_or_empty(target):
        raise OutputPathError(
            f"{target} exists and is not a dataset folder; choose another output or remove it"
        )
    return target


def _is_dataset_or_empty(folder: Path) -> bool:
    """Whether a build may replace `folder`: an earlier dataset folder, or an empty one."""
    if is_empty_dir(folder):
        return True
    return (folder / CARD_FILE).is_file() and any(
        any((folder / directory).glob("*.parquet")) for directory in CONFIG_DIRS.values()
    )


def _progress(rows: Iterable[VideoRow], enabled: bool, label: str) -> Iterable[VideoRow]:
    if not enabled:
        return rows
    from mrw.core.progress import progress_bar

    total = len(rows) if isinstance(rows, Sized) else None
    return progress_bar(rows, desc=label, unit="row", total=total)
