"""Per-frame CNN features, computed once per (dataset, split, backbone, weights, fps, frames,
size) and cached for every method.

Every method trains on the same cached features, so a difference in results is never a
difference in preprocessing. A cache file holds one split: each distinct video's features
(fp16, `[Nv, T, F]`) plus the split's pair table (ids, sentences), so training never needs
to decode a video again. Under `torchrun` the videos are sharded across ranks and rank 0
assembles the file. The backbones themselves are `mrw.bench.backbones`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import pickle
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mrw.bench import distributed as dist_util
from mrw.bench.backbones import (
    PRECOMPUTED,
    ClipImageTower,
    FeatureError,
    FrameEncoder,
    build_backbone,
    resolve_weights,
)
from mrw.bench.data import SplitFeatures, standardized
from mrw.bench.toy_features import mixed
from mrw.catalog import cache_root, find_dataset
from mrw.core.atomic import atomic_write

log = logging.getLogger(__name__)

CACHE_VERSION = 2  # in the file name: a new version recomputes instead of reading stale features


@dataclass(frozen=True)
class FeatureSpec:
    """Everything that determines a split's features; the cache key is derived from it."""

    dataset: str
    split: str
    backbone: str = "resnet152"
    weights: str = "IMAGENET1K_V1"  # a torchvision weights name (see `resolve_weights`) or "none"
    fps: float = 8.0
    num_frames: int = 8
    image_size: int = 224
    # Keep the CNN's last convolutional map instead of its pooled vector: every cell (7 x 7
    # at 224 px for ResNet-152) becomes a local feature, `[N, T * cells, F]` (PVSE's image side).
    grid: bool = False

    def cache_path(self, root: Path | None = None) -> Path:
        root = cache_root() if root is None else root
        if self.backbone == PRECOMPUTED:
            name = f"{PRECOMPUTED}-v{CACHE_VERSION}.pt"  # imported as they are: no other key
        else:
            layout = "-grid" if self.grid else ""
            # `clip:MODEL` / `hf-hub:org/repo` hold characters no file name should.
            key = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{self.backbone}-{self.weights}")
            name = (
                f"{key}-fps{self.fps:g}-t{self.num_frames}"
                f"-s{self.image_size}{layout}-v{CACHE_VERSION}.pt"
            )
        # A named dataset's features go under its prepared folder's name (`toy-v2`): a new
        # toy generator version then never reads features of the old clips.
        record = find_dataset(self.dataset)
        folder = record.folder.name if record else dataset_slug(self.dataset)
        return root / "features" / folder / self.split / name


def dataset_slug(dataset: str) -> str:
    """A folder name for a dataset: its name, or a dataset folder's name plus a path hash."""
    if find_dataset(dataset):
        return dataset
    resolved = str(Path(dataset).expanduser().resolve()) if Path(dataset).exists() else dataset
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(resolved).name or "dataset")
    return f"{stem}-{hashlib.sha256(resolved.encode()).hexdigest()[:8]}"


@dataclass
class _OpenSplit:
    """A split's rows (frames decoded lazily) and its pair table, read without decoding."""

    rows: Any
    pair_ids: list[str]
    pair_video_ids: list[str]
    sentences: list[str]
    first_row: dict[str, int]  # video id -> its first row, in order of first appearance

    @property
    def video_ids(self) -> list[str]:
        return list(self.first_row)

    def to_split(
        self, data: Tensor, lengths: Tensor, skipped: dict[str, str] | None = None
    ) -> SplitFeatures:
        """The split without the videos in `skipped` (id -> why it did not decode) and their
        pairs; `data`/`lengths` have one row per video of `video_ids`."""
        skipped = skipped or {}
        keep = [i for i, v in enumerate(self.first_row) if v not in skipped]
        if not keep:
            raise FeatureError(
                f"no video of the split decodes ({len(skipped)} failed, e.g. "
                f"{next(iter(skipped.items()), ('', ''))[1]})"
            )
        video_ids = [self.video_ids[i] for i in keep]
        index_of = {v: i for i, v in enumerate(video_ids)}
        pairs = [i for i, v in enumerate(self.pair_video_ids) if v in index_of]
        pair_video = torch.tensor(
            [index_of[self.pair_video_ids[i]] for i in pairs], dtype=torch.long
        )
        if len(keep) < len(self.first_row):
            data, lengths = data[keep], lengths[keep]
        return SplitFeatures(
            video_ids,
            data,
            lengths,
            [self.pair_ids[i] for i in pairs],
            [self.sentences[i] for i in pairs],
            pair_video,
            skipped=dict(skipped),
        )


def _open_split(spec: FeatureSpec) -> _OpenSplit:
    from mrw.dataset import load_dataset

    rows = load_dataset(
        spec.dataset,
        split=spec.split,
        num_frames=spec.num_frames,
        fps=spec.fps,
        size=spec.image_size,
    )
    plain = rows.select_columns(["id", "video_id", "sentence"]).with_format(None)
    pair_ids, pair_video_ids, sentences = (
        list(plain["id"]),
        list(plain["video_id"]),
        list(plain["sentence"]),
    )
    if not pair_ids:
        raise FeatureError(f"{spec.dataset} split {spec.split!r} has no rows")
    first_row: dict[str, int] = {}
    for row, video_id in enumerate(pair_video_ids):
        first_row.setdefault(video_id, row)
    return _OpenSplit(rows, pair_ids, pair_video_ids, sentences, first_row)


class _Clips:
    """`rows[indices[i]]["frames"]`; a row whose media does not decode gives its reason instead
    (or raises, when `strict`), so one bad row never aborts a split."""

    def __init__(self, rows: Any, indices: Sequence[int], strict: bool) -> None:
        self.rows, self.indices, self.strict = rows, list(indices), strict

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Tensor | str:
        from mrw.media.frames import FrameDecodeError

        try:
            return torch.as_tensor(self.rows[self.indices[i]]["frames"])
        except FrameDecodeError as exc:
            if self.strict:
                raise
            return str(exc)


def _as_list(items: list[Any]) -> list[Any]:
    return items


def _map_videos(
    per_frame: Callable[[Tensor], Tensor],
    rows: Any,
    row_indices: Sequence[int],
    spec: FeatureSpec,
    batch_frames: int,
    workers: int,
    progress: bool,
    desc: str,
    failures: dict[int, str],
    strict: bool = False,
) -> Iterator[tuple[Tensor, Tensor]]:
    """`per_frame` over the frames of `rows[row_indices]`, in order, a batch of videos at a
    time: (`[b, T, ...]` zero-padded, `[b]` lengths). A video that does not decode gets
    length 0 and its reason in `failures` (keyed by its position in `row_indices`)."""
    from torch.utils.data import DataLoader

    from mrw.core.progress import progress_bar

    loader = DataLoader(
        _Clips(rows, row_indices, strict),
        batch_size=max(1, batch_frames // spec.num_frames),
        num_workers=workers,
        collate_fn=_as_list,
    )
    blank = torch.zeros(1, 3, spec.image_size, spec.image_size, dtype=torch.uint8)
    done = 0
    with progress_bar(
        total=len(row_indices),
        desc=f"{desc} {spec.dataset}/{spec.split}",
        unit="video",
        disable=not progress,
    ) as bar:
        for items in loader:
            for k, item in enumerate(items):
                if isinstance(item, str):
                    failures[done + k] = item
            clips = [blank if isinstance(c, str) else c for c in items]
            out = per_frame(torch.cat(clips))
            padded = out.new_zeros(len(clips), spec.num_frames, *out.shape[1:])
            lengths = torch.zeros(len(clips), dtype=torch.long)
            for i, piece in enumerate(out.split([len(c) for c in clips])):
                if isinstance(items[i], str):
                    continue
                lengths[i] = n = min(len(piece), spec.num_frames)
                padded[i, :n] = piece[:n]
            done += len(items)
            yield padded, lengths
            bar.update(len(clips))


def _skipped(
    failures: dict[int, str], video_ids: Sequence[str], positions: Sequence[int]
) -> dict[str, str]:
    """{video id: reason} of the failed positions; warns once with the count."""
    skipped = {video_ids[positions[p]]: reason for p, reason in sorted(failures.items())}
    if skipped:
        first, reason = next(iter(skipped.items()))
        log.warning("skipped %d videos that do not decode (%s: %s)", len(skipped), first, reason)
    return skipped


def _stacked(batches: Iterator[tuple[Tensor, Tensor]], num_frames: int) -> tuple[Tensor, Tensor]:
    pieces = list(batches)
    if not pieces:
        return torch.zeros(0, num_frames, 0), torch.zeros(0, dtype=torch.long)
    return torch.cat([data for data, _ in pieces]), torch.cat([lengths for _, lengths in pieces])


def extract_features(
    spec: FeatureSpec,
    device: torch.device | str = "cpu",
    batch_frames: int = 256,
    workers: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    strict: bool = False,
) -> tuple[SplitFeatures, FeatureSpec]:
    """The split's features, from the cache or computed and cached now.

    Returns the features and the spec actually used (weights resolved to their concrete
    name, e.g. `DEFAULT` -> `IMAGENET1K_V2`). A video whose media does not decode is left out
    with its pairs and listed, with the reason, in `SplitFeatures.skipped` (`strict=True`:
    raise `FrameDecodeError` instead). Under `torchrun` every rank must call this; each
    extracts its share and all return the result.
    """
    device = torch.device(device)
    spec = dataclasses.replace(spec, weights=resolve_weights(spec.backbone, spec.weights))
    if spec.cache_path().is_file() and not overwrite:
        return load_features(spec.cache_path()), spec
    opened = _open_split(spec)
    cnn, _ = build_backbone(spec.backbone, spec.weights, spec.grid)
    path = spec.cache_path()
    video_ids = opened.video_ids
    rank, world = dist_util.rank(), dist_util.world_size()
    mine = list(range(rank, len(video_ids), world))

    encoder = (
        FrameEncoder(cnn, spec.image_size, spec.grid)
        .to(device)
        .to(memory_format=torch.channels_last)
    )
    amp = torch.autocast("cuda", dtype=torch.float16, enabled=device.type == "cuda")

    @torch.inference_mode()
    def per_frame(frames: Tensor) -> Tensor:
        with amp:
            features = encoder(frames.to(device, non_blocking=True)).half().cpu()
        if not torch.isfinite(features).all():
            raise FeatureError(
                f"{spec.backbone} ({spec.weights}) gives features beyond fp16's range"
            )
        return features

    failures: dict[int, str] = {}
    feats, lengths = _stacked(
        _map_videos(
            per_frame,
            opened.rows,
            [opened.first_row[video_ids[i]] for i in mine],
            spec,
            batch_frames,
            workers,
            progress and rank == 0,
            "features",
            failures,
            strict,
        ),
        spec.num_frames,
    )
    if feats.dim() == 4:  # grid: [N, T, cells, F] -> [N, T * cells, F], every cell is local
        feats, lengths = feats.flatten(1, 2), lengths * feats.shape[2]
    skipped = _skipped(failures, video_ids, mine)
    part = path.with_name(f"{path.name}.part{rank}-of-{world}")
    if world > 1:
        with atomic_write(part) as handle:
            torch.save(
                {"index": mine, "features": feats, "lengths": lengths, "skipped": skipped},
                handle,
            )
        dist_util.barrier()
    if rank == 0:
        if world > 1:
            parts = [
                torch.load(path.with_name(f"{path.name}.part{r}-of-{world}"), weights_only=True)
                for r in range(world)
            ]
            shape = max((tuple(p["features"].shape[1:]) for p in parts), key=lambda s: s[-1])
            feats = torch.zeros(len(video_ids), *shape, dtype=torch.float16)
            lengths = torch.zeros(len(video_ids), dtype=torch.long)
            skipped = {}
            for p in parts:
                skipped.update(p.get("skipped", {}))
                if p["index"]:
                    feats[p["index"]] = p["features"]
                    lengths[p["index"]] = p["lengths"]
        split = opened.to_split(feats, lengths, skipped)
        if isinstance(cnn, ClipImageTower):
            split.weights = cnn.weights.to_json()
        save_features(path, split, spec)
        for r in range(world if world > 1 else 0):
            path.with_name(f"{path.name}.part{r}-of-{world}").unlink(missing_ok=True)
    dist_util.barrier()
    return load_features(path), spec


def frames_cache_paths(spec: FeatureSpec) -> tuple[Path, Path]:
    """(frames, lengths) `.npy` files of a split's decoded frames, beside its feature cache."""
    stem = f"frames-fps{spec.fps:g}-t{spec.num_frames}-s{spec.image_size}-v{CACHE_VERSION}"
    folder = spec.cache_path().parent
    return folder / f"{stem}.npy", folder / f"{stem}.lengths.npy"


def decode_frames(spec: FeatureSpec, workers: int = 0, progress: bool = True) -> SplitFeatures:
    """A split with decoded uint8 frames `[Nv, T, 3, S, S]` in place of features (fine-tuning).

    The frames are decoded once into an uncompressed `.npy` file (T*3*S*S bytes per video:
    1.2 MB at 8 x 224 px, so about 26 GB for MRW's training split at T = 4) and memory-mapped:
    a batch reads only its own clips from disk and no split is held in RAM. Under `torchrun`
    each rank decodes its share of the videos into the same file.
    """
    import numpy as np

    opened = _open_split(spec)
    frames_path, lengths_path = frames_cache_paths(spec)
    if not lengths_path.is_file():  # written last: its presence marks a complete file
        _decode_to_file(opened, spec, frames_path, lengths_path, workers, progress)
    frames = torch.from_numpy(
        np.load(frames_path, mmap_mode="c")
    )  # copy-on-write: the file stays as is
    lengths = torch.from_numpy(np.load(lengths_path))
    if len(frames) != len(opened.video_ids):
        raise FeatureError(
            f"{frames_path} holds {len(frames)} videos, the split "
            f"{len(opened.video_ids)}; delete it"
        )
    # Videos that did not decode keep their place (dropping them would copy the memory-mapped
    # file): one black frame each, listed in `skipped`.
    failed = lengths == 0
    if failed.any():
        lengths = torch.where(failed, 1, lengths)
    split = opened.to_split(frames, lengths)
    split.skipped = {opened.video_ids[i]: "did not decode" for i in torch.nonzero(failed).flatten()}
    return split


def _decode_to_file(
    opened: _OpenSplit,
    spec: FeatureSpec,
    frames_path: Path,
    lengths_path: Path,
    workers: int,
    progress: bool,
) -> None:
    """Decode every video of `opened` into `frames_path` (rank 0 creates it, every rank fills
    its rows)."""
    import numpy as np

    # One name per run (rank 0's), so two jobs decoding the same split never share a file.
    token = dist_util.broadcast(f"{os.getpid()}-{os.urandom(4).hex()}")
    partial = {
        path: path.with_name(f"{path.name}.{token}.partial") for path in (frames_path, lengths_path)
    }
    shape = (len(opened.video_ids), spec.num_frames, 3, spec.image_size, spec.image_size)
    if dist_util.is_main():
        frames_path.parent.mkdir(parents=True, exist_ok=True)
        np.lib.format.open_memmap(
            partial[frames_path], mode="w+", dtype=np.uint8, shape=shape
        ).flush()
        np.lib.format.open_memmap(
            partial[lengths_path], mode="w+", dtype=np.int64, shape=shape[:1]
        ).flush()
    dist_util.barrier()
    frames = np.load(partial[frames_path], mmap_mode="r+")
    lengths = np.load(partial[lengths_path], mmap_mode="r+")
    rank, world = dist_util.rank(), dist_util.world_size()
    mine = list(range(rank, shape[0], world))
    rows = [opened.first_row[opened.video_ids[i]] for i in mine]
    done = 0
    failures: dict[int, str] = {}  # videos that do not decode keep length 0
    for clips, clip_lengths in _map_videos(
        lambda f: f,
        opened.rows,
        rows,
        spec,
        256,
        workers,
        progress and rank == 0,
        "decoding",
        failures,
    ):
        if tuple(clips.shape[2:]) != shape[2:]:
            raise FeatureError(
                f"decoded frames of shape {tuple(clips.shape[2:])}, expected {shape[2:]}"
            )
        index = mine[done : done + len(clips)]
        frames[index], lengths[index] = clips.numpy(), clip_lengths.numpy()
        done += len(clips)
    frames.flush()
    lengths.flush()
    del frames, lengths
    dist_util.barrier()
    if dist_util.is_main():
        os.replace(partial[frames_path], frames_path)
        os.replace(partial[lengths_path], lengths_path)
    dist_util.barrier()


def save_features(path: Path, split: SplitFeatures, spec: FeatureSpec) -> None:
    with atomic_write(path) as handle:
        torch.save({"version": CACHE_VERSION, "spec": asdict(spec), **split.to_dict()}, handle)


def load_features(path: Path) -> SplitFeatures:
    try:
        # Memory-mapped: a large cache (COCO's 7 x 7 grids: ~23 GB) is paged in as batches
        # read it, not loaded whole.
        data = torch.load(path, weights_only=True, mmap=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise FeatureError(
            f"unreadable feature cache {path} ({exc}); delete it to recompute"
        ) from None
    if data.get("version") != CACHE_VERSION:
        raise FeatureError(f"feature cache {path} is from another version; delete it to recompute")
    return SplitFeatures.from_dict(data)


def prepare_inputs(
    splits: Mapping[str, SplitFeatures], standardize: bool, mix: int
) -> dict[str, SplitFeatures]:
    """What every method and `mrw-bench headroom` see: the cached features, z-scored with
    training statistics when `standardize`, then (`mix` > 0, toy v4) mixed into `mix`
    dimensions (`mrw.bench.toy_features.mixed`) and z-scored again.

    Args:
        splits: split name -> cached features (`[Nv, T, F]`).
        standardize: z-score every split with the training split's statistics.
        mix: the shared dimension of the toy v4 mix (0: none).
    Returns:
        The prepared splits; training statistics only, so nothing of validation or test leaks.
    """
    out = dict(splits)
    if standardize:
        out = standardized(out)
    if mix:
        out = standardized(mixed(out, mix))
    return out
