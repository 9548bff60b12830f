"""Import MS-COCO and Flickr30K: the Karpathy split files, or the precomputed-feature layout.

Karpathy split files (`dataset_coco.json`, `dataset_flickr30k.json`, Karpathy & Fei-Fei
2015) hold `{"images": [{"filename", "filepath"?, "cocoid"?, "split", "sentences": [{"raw",
"tokens", ...}]}]}`. The split used by VSE++ and PVSE: COCO `train` + `restval` = 113,287
training images, `val` 5,000, `test` 5,000; Flickr30K 29,000 / 1,014 / 1,000. Each image keeps
its first five captions (as the reference code's `sentids[:5]`), in file order, and images
keep the file's order, so the 1K folds of COCO's test split are the published ones (the first
1,000 images, the next 1,000, ...). An image's id is its COCO id (`cocoid`) or its file name
without extension (Flickr30K); its captions are `{image id}#{k}`. Images are read from the
folder the user points to (`--images DIR`: `DIR/{filepath}/{filename}` or
`DIR/{filename}`); without it, COCO imports URL-only (images.cocodataset.org URLs), while
Flickr30K, whose images have no public URL, needs the folder.

The precomputed layout (VSE++ `data/{coco,f30k}_precomp`, SCAN): `{split}_caps.txt` (one
caption per line, the captions of image i on lines 5i..5i+4) and `{split}_ims.npy` (`[N, D]`
pooled or `[N, R, D]` region/grid features), splits `train`, `dev`, `test` and, for COCO's 5K
test, `testall` (preferred over `test` when present). These go straight into the feature
cache as backbone `precomp`: no images needed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from mrw.bench.data import SplitFeatures
from mrw.catalog import SPLITS
from mrw.sources.releases import ImportReport, Release, ReleaseError, ReleasePair

CAPTIONS_PER_IMAGE = 5
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "validation", "test": "test"}
COCO_IMAGE_URL = "http://images.cocodataset.org/{filepath}/{filename}"
# Our split <- the precomputed layout's file stems, first found wins.
PRECOMP_STEMS = {"train": ("train",), "validation": ("dev", "val"), "test": ("testall", "test")}
CHUNK_ROWS = 4096  # images converted to fp16 at a time (bounded memory for 30 GB inputs)


def _load_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"Karpathy split file not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("images"), list):
        raise ReleaseError(f"{path}: expected a Karpathy split file ({{'images': [...]}})")
    return data


def _captions(image: dict) -> list[str]:
    out = []
    for sentence in image.get("sentences") or []:
        if not isinstance(sentence, dict):
            continue
        raw = sentence.get("raw")
        if not isinstance(raw, str):
            raw = " ".join(map(str, sentence.get("tokens") or []))
        out.append(" ".join(raw.split()))
    return out


def read_karpathy(json_path: str | Path, name: str) -> Release:
    """The image-caption pairs of a Karpathy split file, in file order.

    Args:
        json_path: `dataset_coco.json` or `dataset_flickr30k.json`.
        name: the dataset name the rows are imported as (`coco`, `flickr30k`), also their
            `source`; `coco` rows get images.cocodataset.org URLs.
    Returns:
        A `Release` whose pairs are grouped by split (train, validation, test), each split
        in file order; its report counts what was skipped (`extra_caption` beyond five,
        `empty_caption`, `unknown_split`, `malformed_image`, `duplicate_image`).
    Raises:
        ReleaseError: the file is missing, not JSON, or not in the Karpathy format.
    """
    path = Path(json_path)
    report = ImportReport(name)
    pairs: list[ReleasePair] = []
    seen: set[str] = set()
    for image in _load_json(path)["images"]:
        filename = image.get("filename") if isinstance(image, dict) else None
        if not isinstance(filename, str) or not filename:
            report.skipped["malformed_image"] += 1
            continue
        split = KARPATHY_SPLITS.get(str(image.get("split")))
        if split is None:
            report.skipped["unknown_split"] += 1
            continue
        image_id = str(image["cocoid"]) if "cocoid" in image else Path(filename).stem
        if image_id in seen:
            report.skipped["duplicate_image"] += 1
            continue
        seen.add(image_id)
        folder = str(image.get("filepath") or "")
        url = COCO_IMAGE_URL.format(filepath=folder, filename=filename) if name == "coco" else ""
        captions = _captions(image)
        kept = [c for c in captions if c][:CAPTIONS_PER_IMAGE]
        report.skipped["empty_caption"] += sum(1 for c in captions if not c)
        report.skipped["extra_caption"] += max(0, sum(1 for c in captions if c) - len(kept))
        for k, sentence in enumerate(kept):
            pairs.append(
                ReleasePair(
                    f"{image_id}#{k}",
                    image_id,
                    sentence,
                    url,
                    split,
                    name,
                    media_path=f"{folder}/{filename}" if folder else filename,
                )
            )
    report.skipped = Counter({k: v for k, v in report.skipped.items() if v})
    if not pairs:
        raise ReleaseError(f"{path}: no captioned image in a train/restval/val/test split")
    pairs.sort(key=lambda p: SPLITS.index(p.split))  # stable: file order within a split
    return Release(name, pairs, report)


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
    from mrw.progress import progress_bar

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
    from mrw.bench.features import PRECOMPUTED, FeatureSpec, save_features

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
