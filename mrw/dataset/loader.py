"""Loading a dataset by name, folder or hub id, with frames decoded lazily (PyAV) on access,
and batching rows for a DataLoader."""

from __future__ import annotations

import os
import re
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrw.catalog import find_dataset, list_datasets
from mrw.core.untrusted import UnsafeInputError, confined
from mrw.dataset.reader import check_folder
from mrw.dataset.schema import DatasetFormatError, DatasetNotFoundError
from mrw.dataset.validate import CARD_FILE
from mrw.net.hfhub import hub_errors

if TYPE_CHECKING:  # decoding (PyAV, torch) and `datasets` load on first use: `--help` stays fast
    import datasets

    from mrw.media.frames import Sampling


def resolve(name_or_path: str | os.PathLike[str], *, build: bool = True) -> str:
    """A folder or hub id for `datasets.load_dataset`.

    A catalogued name resolves to its prepared folder; a dataset with a builder (the toy set)
    is built there on first use (with `build=False`, its folder is returned unbuilt: what a
    command checks before it loads anything heavy).

    Raises:
        DatasetNotFoundError: a catalogued dataset that is not prepared (the message says how
            to get it), a path (absolute, `./`, `~`, or with several `/`) that is no folder,
            or a string that is no name, folder or hub id.
        DatasetFormatError: a local folder that fails `check_folder` (incomplete, a bad shard).
    """
    name = os.fspath(name_or_path)
    record = find_dataset(name)
    if record is not None:
        location = record.folder
        if (location / CARD_FILE).exists():
            check_folder(location)
            return str(location)
        if record.builder:
            if not build:
                return str(location)
            print(f"building the {name} dataset into {location} (first use)", file=sys.stderr)
            return str(record.build(location))
        raise DatasetNotFoundError(
            f"the {name} dataset is not prepared at {location}; to get it, {record.how_to_get}"
        )
    if Path(name).is_dir():
        check_folder(name)
        return name
    if Path(name).exists():
        raise DatasetNotFoundError(f"{name}: a file, not a dataset folder")
    if Path(name).is_absolute() or name.startswith((".", "~")) or name.count("/") > 1:
        raise DatasetNotFoundError(f"{name}: dataset folder not found")
    if re.fullmatch(r"[\w.-]+/[\w.-]+", name):
        return name  # a hub id
    raise DatasetNotFoundError(
        f"unknown dataset {name!r}: expected {', '.join(list_datasets())}, a folder, or a hub id"
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
    # The dataset folder: a row's `video.path` is read only inside it, and rows loaded in place
    # carry `shard#row` locators resolved there (`mrw.dataset.inplace`).
    root: str | None = None

    def __call__(self, batch: dict[str, list[Any]]) -> dict[str, list[Any]]:
        from mrw.media.frames import FrameDecodeError
        from mrw.media.images import decode_media

        videos = batch.pop("video", None)
        if videos is None:
            return batch
        frames, timestamps = [], []
        for row_id, video in zip(batch["id"], videos, strict=True):
            seed = None if self.seed is None else self.seed ^ zlib.crc32(row_id.encode())
            media = self._media(row_id, self._stored(video), self.root)
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

    def _stored(self, video: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
        """The row's stored `video` value, read from its shard when loaded in place."""
        from mrw.dataset.inplace import is_locator, read_media

        if self.root and video and not video.get("bytes") and is_locator(video.get("path")):
            return read_media(self.root, video["path"])
        return video

    @staticmethod
    def _media(row_id: str, video: Mapping[str, Any] | None, root: str | None) -> bytes | str:
        """The row's media bytes, else its file if that lies inside the dataset folder `root`."""
        from mrw.media.frames import FrameDecodeError

        if video and video.get("bytes"):
            return video["bytes"]
        if video and video.get("path") and root is not None:
            try:
                path = confined(root, video["path"])
            except UnsafeInputError:
                raise FrameDecodeError(
                    f"row {row_id}: video.path {video['path'][:80]!r} is outside the dataset "
                    "folder; only paths inside it are read"
                ) from None
            if path.is_file():
                return str(path)
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

    Frames are decoded with PyAV on access (`set_transform`), so nothing is decoded up front
    and DataLoader workers decode in parallel; pair with `collate` for batches. A local
    MRW-format folder (a prepared dataset) is read in place (`mrw.dataset.inplace`): nothing is
    copied into the Hugging Face cache and media bytes are read from the shards on access.

    Args:
        name_or_path: a catalogued name (`mrw.list_datasets()`), an MRW-format folder (e.g.
            one written by `mrw toy --out DIR` or `mrw build`) or a Hugging Face hub id.
        split: `train`, `validation` or `test`; None loads every split.
        num_frames: T, the frames sampled per clip.
        fps: the sampling rate in frames per second of presentation time (None: T frames
            spread over the clip, as the clip's own timing gives them).
        size: the shorter side in pixels after resizing (None: the clip's own size).
        config: the dataset card's config (e.g. the URL-only one); None: the default.
        sampling: `uniform` (evenly spaced, deterministic) or `random` (training jitter).
        seed: the seed of `random` sampling.
        cache_dir: the Hugging Face cache for hub ids (local folders are never copied).

    Returns:
        A `datasets.DatasetDict` (all splits) or a `datasets.Dataset` (`split` given) whose
        rows hold the metadata columns plus `frames` (uint8 `[T, 3, H, W]`) and `timestamps`
        (float seconds, `[T]`), decoded on access.

    Raises:
        DatasetNotFoundError: an unknown name, a missing folder or split, or an unreachable hub.
        DatasetFormatError: a dataset without a `video` column (not in the MRW format).

    Example:
        >>> import mrw  # doctest: +SKIP
        >>> ds = mrw.load_dataset("toy", split="train", num_frames=8, size=64)  # doctest: +SKIP
        >>> ds[0]["frames"].shape  # doctest: +SKIP
        torch.Size([8, 3, 64, 64])
    """
    import datasets
    from datasets import Video

    location = resolve(name_or_path)
    if split is not None and Path(location).is_dir():
        _check_split(location, config, split, name_or_path)
    try:
        if Path(location).is_dir() and _has_shards(location, config):
            loaded = _load_in_place(location, split, config)
        else:
            loaded = datasets.load_dataset(location, name=config, split=split, cache_dir=cache_dir)
    except (
        FileNotFoundError,
        ValueError,
        ConnectionError,
        datasets.exceptions.DatasetNotFoundError,
        *hub_errors(),
    ) as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise DatasetNotFoundError(f"cannot load {name_or_path!r}: {reason}") from None
    names = loaded.column_names
    if "video" not in (names if isinstance(names, list) else next(iter(names.values()))):
        raise DatasetFormatError(
            f"{name_or_path!r} has no `video` column: not an MRW-format dataset"
        )
    loaded = loaded.cast_column("video", Video(decode=False))
    root = location if Path(location).is_dir() else None
    loaded.set_transform(FrameTransform(num_frames, fps, size, sampling, seed, root))
    return loaded


def _has_shards(directory: str, config: str | None) -> bool:
    from mrw.dataset.reader import split_files

    try:
        return bool(split_files(directory, config))
    except DatasetNotFoundError:
        return False


def _load_in_place(
    directory: str, split: str | None, config: str | None
) -> datasets.Dataset | datasets.DatasetDict:
    import datasets
    import pyarrow as pa

    from mrw.dataset.inplace import load_split
    from mrw.dataset.reader import split_files

    files = split_files(directory, config)
    if split is not None and split not in files:
        raise ValueError(f'Unknown split "{split}". Should be one of {list(files)}.')
    try:
        if split is not None:
            return load_split(directory, files[split], split)
        return datasets.DatasetDict(
            {name: load_split(directory, shards, name) for name, shards in files.items()}
        )
    except KeyError:
        raise DatasetFormatError(
            f"{directory!r} has no `video` column: not an MRW-format dataset"
        ) from None
    except pa.ArrowInvalid as exc:
        raise DatasetFormatError(f"{directory}: unreadable parquet shards ({exc})") from None


def _check_split(
    location: str, config: str | None, split: str, name: str | os.PathLike[str]
) -> None:
    """A clear error for a split the dataset folder does not have (instead of `datasets`'
    bare `Unknown split`), saying how to get one."""
    import datasets

    try:
        names = datasets.get_dataset_split_names(location, config_name=config)
    except (FileNotFoundError, ValueError):
        return  # not a readable dataset: `load_dataset` reports it
    if split not in names:
        raise DatasetFormatError(
            f"{os.fspath(name)!r} has no {split!r} split (it has {', '.join(names) or 'none'}); "
            "the harness trains on train, selects on validation and evaluates on test: rebuild "
            "it with `mrw build` (every split gets at least one pair) or add the split"
        )


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
