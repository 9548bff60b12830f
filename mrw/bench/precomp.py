"""The precomputed-feature layout (VSE++ `data/{coco,f30k}_precomp`, SCAN) into the feature cache.

The precomputed layout (VSE++ `data/{coco,f30k}_precomp`, SCAN): `{split}_caps.txt` (one
caption per line, the captions of image i on lines 5i..5i+4) and `{split}_ims.npy` (`[N, D]`
pooled or `[N, R, D]` region/grid features), splits `train`, `dev`, `test` and, for COCO's 5K
test, `testall` (preferred over `test` when present). These go straight into the feature
cache as backbone `precomp` (`mrw import precomp`): no images needed.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from mrw.bench.data import SplitFeatures
from mrw.bench.features import PRECOMPUTED, FeatureSpec, save_features
from mrw.catalog import SPLITS
from mrw.sources.releases import ReleaseError

# Our split <- the precomputed layout's file stems, first found wins.
PRECOMP_STEMS = {"train": ("train",), "validation": ("dev", "val"), "test": ("testall", "test")}
CHUNK_ROWS = 4096  # images converted to fp16 at a time (bounded memory for 30 GB inputs)


def _precomp_files(directory: Path, split: str) -> tuple[Path, Path]:
    for stem in PRECOMP_STEMS[split]:
        caps, ims = directory / f"{stem}_caps.txt", directory / f"{stem}_ims.npy"
        if caps.is_file() and ims.is_file():
            return caps, ims
    names = " or ".join(f"{s}_caps.txt + {s}_ims.npy" for s in PRECOMP_STEMS[split])
    raise ReleaseError(f"{directory}: no {split} split ({names})")


def read_precomp_split(caps_path: Path, ims_path: Path, progress: bool = False) -> SplitFeatures:
    """One split of the precomputed layout as cached features.

    Args:
        caps_path: `{split}_caps.txt`, one caption per line; image i's captions are lines
            i*c .. i*c + c - 1 with c = captions / images (5 in the published files).
        ims_path: `{split}_ims.npy`, `[N, D]` or `[N, R, D]` float features (read memory-mapped).
    Returns:
        `SplitFeatures` with fp16 features `[N, R, D]` (R = 1 for pooled vectors), image ids
        `{i:06d}` and caption ids `{i:06d}#{k}`.
    Raises:
        ReleaseError: unreadable files, a wrong rank, or captions not a multiple of images.
    """
    try:
        captions = [" ".join(line.split()) for line in caps_path.read_text("utf-8").splitlines()]
        images = np.load(ims_path, mmap_mode="r")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReleaseError(f"cannot read {caps_path.name} / {ims_path.name}: {exc}") from None
    if images.ndim not in (2, 3) or not len(images):
        raise ReleaseError(f"{ims_path}: expected [N, D] or [N, R, D] features, got {images.shape}")
    if len(captions) % len(images):
        raise ReleaseError(
            f"{caps_path}: {len(captions)} captions for {len(images)} images "
            "(not a whole number per image)"
        )
    per_image = len(captions) // len(images)
    shape = (len(images), 1 if images.ndim == 2 else images.shape[1], images.shape[-1])
    features = torch.empty(shape, dtype=torch.float16)
    from mrw.core.progress import progress_bar

    for start in progress_bar(
        range(0, len(images), CHUNK_ROWS), desc=ims_path.name, unit="chunk", disable=not progress
    ):
        chunk = np.array(images[start : start + CHUNK_ROWS], dtype=np.float32)  # a copy
        features[start : start + len(chunk)] = torch.from_numpy(chunk).view(-1, *shape[1:])
    if not torch.isfinite(features).all():
        raise ReleaseError(f"{ims_path}: features beyond fp16's range (or NaN)")
    image_ids = [f"{i:06d}" for i in range(len(images))]
    return SplitFeatures(
        video_ids=image_ids,
        features=features,
        lengths=torch.full((len(images),), shape[1], dtype=torch.long),
        pair_ids=[f"{image_ids[j // per_image]}#{j % per_image}" for j in range(len(captions))],
        sentences=captions,
        pair_video=torch.arange(len(images)).repeat_interleave(per_image),
    )


def import_precomp(directory: str | Path, name: str, progress: bool = True) -> dict[str, Path]:
    """Put a precomputed-feature folder into the feature cache as `name`'s `precomp` features.

    Afterwards `mrw-bench run ... --dataset NAME --backbone precomp` trains on them.

    Args:
        directory: the folder with `{train,dev,test|testall}_caps.txt` and `_ims.npy`.
        name: the dataset name to file them under (`coco`, `flickr30k`, ...).
    Returns:
        The cache file written per split.
    Raises:
        ReleaseError: a missing split, a bad name, or files not in the layout.
    """
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*", name):
        raise ReleaseError(f"invalid dataset name {name!r} (letters, digits, '.', '-', '_')")
    folder = Path(directory)
    if not folder.is_dir():
        raise ReleaseError(f"precomputed-feature folder not found: {folder}")
    files = {split: _precomp_files(folder, split) for split in SPLITS}  # all present, or fail
    written = {}
    for split, (caps, ims) in files.items():
        features = read_precomp_split(caps, ims, progress)
        spec = FeatureSpec(name, split, PRECOMPUTED, "none", 0.0, 1, 0)
        save_features(spec.cache_path(), features, spec)
        written[split] = spec.cache_path()
    return written
