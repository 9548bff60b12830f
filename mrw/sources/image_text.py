"""Import MS-COCO and Flickr30K from the Karpathy split files.

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

The precomputed-feature layout goes straight into the feature cache: `mrw.bench.precomp`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from mrw.catalog import SPLITS
from mrw.sources.releases import ImportReport, Release, ReleaseError, ReleasePair

CAPTIONS_PER_IMAGE = 5
KARPATHY_SPLITS = {"train": "train", "restval": "train", "val": "validation", "test": "test"}
COCO_IMAGE_URL = "http://images.cocodataset.org/{filepath}/{filename}"


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
