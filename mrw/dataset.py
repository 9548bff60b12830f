"""The MRW dataset format: row schema, building the HF dataset folder, loading it with frames.

One row per video–sentence pair (TGIF-style sets repeat a `video_id` over several rows).
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
import sys
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from mrw.atomic import atomic_dir
from mrw.errors import MRWError

if TYPE_CHECKING:  # decoding (PyAV, torch) and `datasets` load on first use: `--help` stays fast
    import datasets

    from mrw.frames import Sampling

SPLITS = ("train", "validation", "test")
CONFIG_DIRS = {"default": "data", "urls": "urls"}
NAMED_DATASETS = ("mrw", "tgif", "toy", "toy-image")
HOW_TO_GET = {
    "mrw": "run `mrw download mrw` (or build it from Reddit: `mrw collect`, `mrw clean`, "
    "`mrw build`)",
    "tgif": "run `mrw download tgif`, or `mrw import tgif` on the original TGIF release",
}
MAX_SHARD_BYTES = 512 * 1024 * 1024
ROW_OVERHEAD_BYTES = 256  # metadata columns of a row, for sizing shards before writing them
ROW_GROUP_ROWS = 64  # media rows are large: small row groups keep random access cheap


class DatasetFormatError(MRWError):
    """Rows or a dataset folder that do not follow the MRW format."""


class DatasetNotFoundError(MRWError):
    """A dataset name or path that does not resolve to a prepared dataset."""


@dataclass(frozen=True)
class VideoRow:
    """One video–sentence pair: the columns of DESIGN.md (`video` is bytes + a file name)."""

    id: str
    video_id: str
    sentence: str
    video_bytes: bytes | None = None
    video_path: str | None = None  # file name stored with the bytes; its extension names the format
    source: str | None = None
    post_url: str | None = None
    media_url: str | None = None
    created_utc: int | None = None
    num_frames: int | None = None
    fps: float | None = None
    duration_s: float | None = None
    width: int | None = None
    height: int | None = None
    sha256: str | None = None

    @classmethod
    def from_media(
        cls, data: bytes, *, id: str, video_id: str, sentence: str, **metadata: Any
    ) -> VideoRow:
        """A row whose media metadata (frames, fps, size, sha256, file name) is read from `data`."""
        import hashlib

        from mrw.images import probe_media

        info = probe_media(data)
        metadata.setdefault("video_path", f"{video_id}{sniff_extension(data)}")
        return cls(
            id=id,
            video_id=video_id,
            sentence=sentence,
            video_bytes=data,
            num_frames=info.num_frames,
            fps=round(info.fps, 4),
            duration_s=round(info.duration_s, 4),
            width=info.width,
            height=info.height,
            sha256=hashlib.sha256(data).hexdigest(),
            **metadata,
        )

    def to_record(self, *, with_media: bool) -> dict[str, Any]:
        record = {f.name: getattr(self, f.name) for f in fields(self)}
        data, path = record.pop("video_bytes"), record.pop("video_path")
        record["video"] = {"bytes": data, "path": path} if with_media else None
        return record


def sniff_extension(data: bytes) -> str:
    """File extension from magic bytes (what `Video()` and players use to pick a demuxer);
    `.jpg` / `.png` for the stills of image-text sets."""
    from mrw.collect.mediatypes import EXTENSIONS, sniff
    from mrw.images import still_format

    kind = sniff(data[:16])
    if kind:
        return f".{EXTENSIONS[kind]}"
    still = still_format(data[:16])
    return still[1] if still else ""


# Column -> HF dtype ("video" is the `Video()` feature: struct{bytes, path}).
COLUMN_TYPES: dict[str, str] = {
    "id": "string",
    "video_id": "string",
    "sentence": "string",
    "video": "video",
    "source": "string",
    "post_url": "string",
    "media_url": "string",
    "created_utc": "int64",
    "num_frames": "int32",
    "fps": "float64",
    "duration_s": "float64",
    "width": "int32",
    "height": "int32",
    "sha256": "string",
}
COLUMNS = tuple(COLUMN_TYPES)


def features() -> datasets.Features:
    """The HF features of every MRW-format dataset (both configs share them)."""
    from datasets import Features, Value, Video

    return Features(
        {
            name: Video() if dtype == "video" else Value(dtype)
            for name, dtype in COLUMN_TYPES.items()
        }
    )


# ---------------------------------------------------------------------------------------------
# Building


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
    if not row.id or any(c.isspace() for c in row.id):
        raise DatasetFormatError(f"split {split!r}: invalid id {row.id!r} (non-empty, no spaces)")
    if not row.video_id or any(c.isspace() for c in row.video_id):
        raise DatasetFormatError(f"row {row.id}: invalid video_id {row.video_id!r}")
    if row.id in seen:
        raise DatasetFormatError(f"split {split!r}: duplicate id {row.id!r}")
    seen.add(row.id)
    if "default" in configs and not row.video_bytes:
        raise DatasetFormatError(
            f"row {row.id}: no media bytes; the default config needs them "
            "(build with configs=('urls',) for a URL-only dataset)"
        )
    if "urls" in configs and not row.media_url:
        raise DatasetFormatError(f"row {row.id}: no media_url; the urls config needs one")


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
) -> Path:
    """Write an MRW-format dataset folder (parquet shards + dataset card) atomically.

    `configs` picks what is written: `default` (rows with media bytes) and/or `urls` (the
    same rows without bytes, for redistribution); the first is the card's default config.
    `description` is markdown placed in the card under the generated schema section (e.g.
    the datasheet). `card_metadata` adds Hub card fields (`license`, `language`, ...) to
    the YAML header. Rows are streamed: a split may be a generator over many GB of media.
    """
    configs = tuple(configs)
    if not configs or set(configs) - set(CONFIG_DIRS) or len(set(configs)) != len(configs):
        raise DatasetFormatError(
            f"configs must be a subset of {sorted(CONFIG_DIRS)}, got {configs}"
        )
    feats = features()
    schema = feats.arrow_schema
    counts: dict[str, dict[str, tuple[int, int]]] = {config: {} for config in configs}
    with atomic_dir(out_dir) as tmp:
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
                for writer in writers:
                    writer.add(row)
            for config, writer in zip(configs, writers):
                writer.finish()
                counts[config][split] = (writer.num_rows, writer.num_bytes)
        card = _card(feats, counts, pretty_name, description, card_metadata or {})
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return Path(out_dir)


def _progress(rows: Iterable[VideoRow], enabled: bool, label: str) -> Iterable[VideoRow]:
    if not enabled:
        return rows
    from tqdm import tqdm

    return tqdm(rows, desc=label, unit="row", file=sys.stderr)


def _card(
    feats: datasets.Features,
    counts: Mapping[str, Mapping[str, tuple[int, int]]],
    pretty_name: str,
    description: str,
    card_metadata: Mapping[str, Any],
) -> str:
    import yaml

    configs_yaml = []
    infos_yaml = []
    for index, (config, splits) in enumerate(counts.items()):
        entry: dict[str, Any] = {"config_name": config}
        if index == 0:
            entry["default"] = True
        entry["data_files"] = [
            {"split": split, "path": f"{CONFIG_DIRS[config]}/{split}-*"} for split in splits
        ]
        configs_yaml.append(entry)
        infos_yaml.append(
            {
                "config_name": config,
                "features": feats._to_yaml_list(),
                "splits": [
                    {"name": split, "num_bytes": nbytes, "num_examples": nrows}
                    for split, (nrows, nbytes) in splits.items()
                ],
            }
        )
    header = {
        "pretty_name": pretty_name,
        "tags": ["video", "text-retrieval", "video-text-retrieval", "mrw"],
        **card_metadata,
        "configs": configs_yaml,
        "dataset_info": infos_yaml,
    }
    table = "\n".join(
        f"| {config} | {split} | {nrows:,} |"
        for config, splits in counts.items()
        for split, (nrows, _) in splits.items()
    )
    body = f"""# {pretty_name}

Video–sentence pairs in the MRW format: one row per pair; `video` holds the media bytes
(HF `Video()` feature) in the `default` config and is null in the URL-only `urls` config
(`media_url` and `sha256` identify the media). Load with `datasets.load_dataset(...)`, or with
decoded frames via `mrw.load_dataset(...)`.

| config | split | pairs |
|---|---|---|
{table}

Columns: {", ".join(f"`{name}`" for name in feats)}.
"""
    if description:
        body += "\n" + description.strip() + "\n"
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body


# ---------------------------------------------------------------------------------------------
# Reading without decoding (metadata, stats, qrels)


def split_files(
    directory: str | os.PathLike[str], config: str | None = None
) -> dict[str, list[Path]]:
    """Parquet shards per split of a built folder (`config` None: `default`, else `urls`)."""
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
        if files:
            by_split: dict[str, list[Path]] = {}
            for path in files:
                by_split.setdefault(path.name.split("-")[0], []).append(path)
            return dict(sorted(by_split.items(), key=lambda kv: _split_order(kv[0])))
    raise DatasetNotFoundError(f"{root}: no MRW-format parquet shards (data/ or urls/) found")


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
    except (pa.ArrowInvalid, KeyError) as exc:
        raise DatasetFormatError(f"{directory}: unreadable {split} shards ({exc})") from None


# ---------------------------------------------------------------------------------------------
# Loading with frames


def cache_root() -> Path:
    """Where prepared datasets and feature caches live: `$MRW_CACHE`, else `~/.cache/mrw`."""
    return Path(os.environ.get("MRW_CACHE") or Path.home() / ".cache" / "mrw")


def prepared_dir(name: str) -> Path:
    """The local prepared copy of a named dataset (`mrw`, `tgif`, `toy`).

    The toy set's folder carries its generator's version, so a changed generator never
    reuses a stale cached copy (nor, through the folder name, its cached features).
    """
    if name == "toy":
        from mrw.toy import TOY_VERSION  # lazily: mrw.toy imports this module

        name = f"toy-v{TOY_VERSION}"
    elif name == "toy-image":
        from mrw.toy_image import TOY_IMAGE_VERSION

        name = f"toy-image-v{TOY_IMAGE_VERSION}"
    return cache_root() / "datasets" / name


def resolve(name_or_path: str | os.PathLike[str]) -> str:
    """A folder or hub id for `datasets.load_dataset`; builds the toy set on first use."""
    name = os.fspath(name_or_path)
    if name in NAMED_DATASETS:
        location = prepared_dir(name)
        if (location / "README.md").exists():
            return str(location)
        if name == "toy":
            from mrw.toy import build_toy

            print(f"building the toy dataset into {location} (first use)", file=sys.stderr)
            return str(build_toy(location))
        if name == "toy-image":
            from mrw.toy_image import build_toy_image

            print(f"building the toy image set into {location} (first use)", file=sys.stderr)
            return str(build_toy_image(location))
        raise DatasetNotFoundError(
            f"the {name} dataset is not prepared at {location}; to get it, {HOW_TO_GET[name]}"
        )
    if Path(name).exists():
        return name
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return name  # a hub id
    raise DatasetNotFoundError(
        f"unknown dataset {name!r}: expected {', '.join(NAMED_DATASETS)}, a folder, or a hub id"
    )


@dataclass(frozen=True)
class FrameTransform:
    """Adds `frames` `[T,3,H,W]` and `timestamps` to a batch of rows, dropping media bytes.

    A picklable object (not a closure) so DataLoader workers can run it. With `seed`,
    random windows are fixed per row (seed mixed with the row id); without, each access
    draws a fresh window.
    """

    num_frames: int = 8
    fps: float | None = 8.0
    size: int | None = None
    sampling: Sampling = "uniform"
    seed: int | None = None

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from mrw.frames import FrameDecodeError
        from mrw.images import decode_media

        videos = batch.pop("video", None)
        if videos is None:
            return batch
        frames, timestamps = [], []
        for row_id, video in zip(batch["id"], videos):
            seed = None if self.seed is None else self.seed ^ zlib.crc32(row_id.encode())
            media = self._media(row_id, video)
            try:
                clip = decode_media(
                    media, self.num_frames, self.fps, self.size, self.sampling, seed
                )
            except FrameDecodeError as exc:
                raise FrameDecodeError(f"row {row_id}: {exc}") from None
            frames.append(clip.frames)
            timestamps.append(clip.timestamps)
        batch["frames"], batch["timestamps"] = frames, timestamps
        return batch

    @staticmethod
    def _media(row_id: str, video: Mapping[str, Any] | None) -> bytes | str:
        from mrw.frames import FrameDecodeError

        if video and video.get("bytes"):
            return video["bytes"]
        if video and video.get("path") and Path(video["path"]).is_file():
            return video["path"]
        raise FrameDecodeError(
            f"row {row_id} has no media bytes (URL-only config); `mrw download` re-hydrates it"
        )


def load_dataset(
    name_or_path: str | os.PathLike[str],
    split: str | None = None,
    num_frames: int = 8,
    fps: float | None = 8.0,
    size: int | None = None,
    *,
    config: str | None = None,
    sampling: Sampling = "uniform",
    seed: int | None = None,
    cache_dir: str | None = None,
) -> datasets.Dataset | datasets.DatasetDict:
    """Load `mrw`, `tgif`, `toy`, a folder or a hub id; rows gain decoded `frames` lazily.

    Returns a `DatasetDict` (all splits) or a `Dataset` (`split` given). Frames are decoded
    with PyAV on access (`set_transform`), so nothing is decoded up front and DataLoader
    workers decode in parallel; pair with `collate` for batches.
    """
    import datasets
    from datasets import Video

    location = resolve(name_or_path)
    try:
        loaded = datasets.load_dataset(location, name=config, split=split, cache_dir=cache_dir)
    except (
        FileNotFoundError,
        ValueError,
        ConnectionError,
        datasets.exceptions.DatasetNotFoundError,
    ) as exc:
        raise DatasetNotFoundError(f"cannot load {name_or_path!r}: {exc}") from None
    names = loaded.column_names
    if "video" not in (names if isinstance(names, list) else next(iter(names.values()))):
        raise DatasetFormatError(
            f"{name_or_path!r} has no `video` column: not an MRW-format dataset"
        )
    loaded = loaded.cast_column("video", Video(decode=False))
    loaded.set_transform(FrameTransform(num_frames, fps, size, sampling, seed))
    return loaded


def collate(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Batch rows for a DataLoader: tensors stacked, numbers as tensors, the rest as lists."""
    import torch

    if not rows:
        raise ValueError("cannot collate an empty batch")
    batch: dict[str, Any] = {}
    for key in rows[0]:
        values = [row[key] for row in rows]
        first = values[0]
        if isinstance(first, torch.Tensor):
            shapes = {tuple(v.shape) for v in values}
            if len(shapes) > 1:
                raise DatasetFormatError(
                    f"cannot stack {key!r} of shapes {sorted(shapes)}: load with size=N to crop"
                )
            batch[key] = torch.stack(values)
        elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            batch[key] = torch.tensor(values)
        else:
            batch[key] = values
    return batch


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

    sentence_ids, video_ids = _ids(dataset, split)
    by_video: dict[str, list[str]] = {}
    for sentence_id, video_id in zip(sentence_ids, video_ids):
        by_video.setdefault(video_id, []).append(sentence_id)
    out = Path(out_dir)
    paths = {"t2v": out / "t2v.qrels", "v2t": out / "v2t.qrels"}
    write_qrels(paths["t2v"], zip(sentence_ids, video_ids))
    write_qrels(paths["v2t"], ((v, s) for v, ss in by_video.items() for s in ss))
    return paths


def iter_rows(
    directory: str | os.PathLike[str], split: str, config: str | None = None
) -> Iterator[VideoRow]:
    """Rows of a built folder as `VideoRow`s (media included), e.g. to rebuild or re-hydrate."""
    for path in split_files(directory, config).get(split, []):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=ROW_GROUP_ROWS):
            for record in batch.to_pylist():
                video = record.pop("video") or {}
                yield VideoRow(
                    video_bytes=video.get("bytes"), video_path=video.get("path"), **record
                )


__all__ = [
    "COLUMNS",
    "SPLITS",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "FrameTransform",
    "VideoRow",
    "build_dataset",
    "cache_root",
    "collate",
    "export_qrels",
    "features",
    "iter_rows",
    "load_dataset",
    "prepared_dir",
    "read_table",
    "resolve",
    "split_files",
]
