"""Read the original MRW v1.0 and TGIF releases into dataset pairs, exactly as published.

MRW v1.0 (yalesong/pvse, `mrw-v1.0.tar.gz`): `mrw-v1.0.json` is a list of objects with `id`,
`sentence` and `images.mp4_url` (the Giphy MP4 of the reaction GIF); `split/train.tsv`,
`split/valid.tsv`, `split/test.tsv` list one id per line. Videos are `{id}.mp4`.

TGIF (raingo/TGIF-Release, `data/`): `tgif-v1.0.tsv` has `URL<TAB>sentence` per line: one
sentence per train/validation GIF, three per test GIF (kept, grouped by `video_id`);
`splits/{train,val,test}.txt` list GIF URLs. A GIF's `video_id` is its file name without
`.gif` (as in the PVSE code); its sentences get ids `{video_id}#{k}` in file order.
Videos named in a split file but without any sentence in the TSV are kept, one row each with
an empty sentence and the video id as row id (so the split keeps all its videos), counted in
the report and left out of the qrels.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from mrw.catalog import SPLITS
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.untrusted import UnsafeInputError, confined, is_safe_id

MEDIA_EXTENSIONS = (".mp4", ".gif", ".webm")
IMPORT_FILE = "import.json"


TGIF_CITATION = """@inproceedings{li2016tgif,
  title     = {TGIF: A New Dataset and Benchmark on Animated GIF Description},
  author    = {Li, Yuncheng and Song, Yale and Cao, Liangliang and Tetreault, Joel and
               Goldberg, Larry and Jaimes, Alejandro and Luo, Jiebo},
  booktitle = {Proceedings of the IEEE Conference on Computer Vision and Pattern
               Recognition (CVPR)},
  pages     = {4641--4650},
  year      = {2016}
}"""


class ReleaseError(MRWError):
    """An original release file is missing or not in its published format."""


@dataclass(frozen=True)
class ReleasePair:
    """One (video, sentence) pair of an original release, before any media is attached."""

    id: str
    video_id: str
    sentence: str  # "" for a video the release gives no sentence for
    media_url: str
    split: str
    source: str
    # Where the media lies under the folder the user gives (`--videos`, `--images`), when
    # that is not `{video_id}.mp4|.gif|.webm` (e.g. COCO's `val2014/COCO_val2014_...jpg`).
    media_path: str = ""


@dataclass
class ImportReport:
    """What an import kept and skipped, per split and per reason."""

    name: str
    videos: Counter[str] = field(default_factory=Counter)
    pairs: Counter[str] = field(default_factory=Counter)
    videos_without_sentence: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> count
    undecodable: dict[str, str] = field(default_factory=dict)  # video id -> why it failed

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "videos": {s: self.videos[s] for s in SPLITS if s in self.videos},
            "pairs": {s: self.pairs[s] for s in SPLITS if s in self.pairs},
            "videos_without_sentence": dict(self.videos_without_sentence),
            "skipped": dict(sorted(self.skipped.items())),
            "undecodable": dict(sorted(self.undecodable.items())),
        }


@dataclass
class Release:
    name: str
    pairs: list[ReleasePair]
    report: ImportReport


def _split_file(
    splits_dir: Path, stem_names: Iterable[str], suffixes: Iterable[str]
) -> Path | None:
    for stem in stem_names:
        for suffix in suffixes:
            path = splits_dir / f"{stem}{suffix}"
            if path.is_file():
                return path
    return None


# File names of each split in the releases (PVSE uses "valid", TGIF-Release "val").
_SPLIT_STEMS = {
    "train": ("train",),
    "validation": ("valid", "val", "validation"),
    "test": ("test",),
}


def _read_lines(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ReleaseError(f"cannot read {path}: {exc}") from None
    return [line.strip() for line in text.splitlines() if line.strip()]


def _read_splits(
    splits_dir: str | Path,
    suffixes: tuple[str, ...],
    key: Callable[[str], str],
    required: tuple[str, ...],
) -> dict[str, str]:
    """Map each listed item (through `key`) to its split; an item in two splits is an error."""
    directory = Path(splits_dir)
    if not directory.is_dir():
        raise ReleaseError(f"splits directory not found: {directory}")
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = _split_file(directory, _SPLIT_STEMS[split], suffixes)
        if path is None:
            if split in required:
                names = " or ".join(f"{s}{suffixes[0]}" for s in _SPLIT_STEMS[split])
                raise ReleaseError(f"{directory} has no {split} split file ({names})")
            continue
        for line in _read_lines(path):
            item = key(line)
            previous = split_of.setdefault(item, split)
            if previous != split:
                raise ReleaseError(f"{item} is listed in both the {previous} and {split} splits")
    return split_of


def tgif_video_id(url: str) -> str:
    """`https://.../tumblr_abc_400.gif` -> `tumblr_abc_400` (the id used by the PVSE code)."""
    name = urlsplit(url.strip()).path.rsplit("/", 1)[-1]
    return name[:-4] if name.lower().endswith(".gif") else name


def read_tgif(tsv: str | Path, splits_dir: str | Path) -> Release:
    """TGIF pairs of the splits listed in `splits_dir`.

    Without `train.txt` (the GitHub release ships only val/test), every TSV GIF that is in
    neither validation nor test is train, as in the paper.
    """
    split_of = _read_splits(splits_dir, (".txt",), tgif_video_id, required=("test",))
    has_train = "train" in set(split_of.values())
    report = ImportReport("tgif")
    for unsafe in [video_id for video_id in split_of if not is_safe_id(video_id)]:
        del split_of[unsafe]
        report.skipped["unsafe_id"] += 1
    sentences: dict[str, list[str]] = defaultdict(list)
    url_of: dict[str, str] = {}
    path = Path(tsv)
    if not path.is_file():
        raise ReleaseError(f"TGIF TSV not found: {path}")
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            url, sep, sentence = line.rstrip("\r\n").partition("\t")
            sentence = " ".join(sentence.split())
            if not sep or not url.startswith(("http://", "https://")) or not sentence:
                report.skipped["malformed_line"] += 1
                continue
            video_id = tgif_video_id(url)
            if not is_safe_id(video_id):  # ids become file names: never a path
                report.skipped["unsafe_id"] += 1
                continue
            if video_id not in split_of:
                if has_train:
                    report.skipped["not_in_any_split"] += 1
                    continue
                split_of[video_id] = "train"
            if sentence in sentences[video_id]:
                report.skipped["duplicate_sentence"] += 1
                continue
            sentences[video_id].append(sentence)
            url_of.setdefault(video_id, url.strip())
    if not url_of:
        raise ReleaseError(f"{path}: no line in the TGIF format URL<TAB>sentence")

    # URLs of videos that have no sentence come from the split files themselves.
    for split_file_url in _split_urls(Path(splits_dir)):
        url_of.setdefault(tgif_video_id(split_file_url), split_file_url)
    pairs: list[ReleasePair] = []
    for video_id, split in split_of.items():
        texts = sentences.get(video_id) or [""]
        for k, sentence in enumerate(texts):
            pair_id = f"{video_id}#{k}" if sentence else video_id
            pairs.append(ReleasePair(pair_id, video_id, sentence, url_of[video_id], split, "tgif"))
    pairs.sort(key=lambda p: (SPLITS.index(p.split), p.id))
    return Release("tgif", pairs, report)


def _split_urls(splits_dir: Path) -> list[str]:
    urls: list[str] = []
    for stems in _SPLIT_STEMS.values():
        path = _split_file(splits_dir, stems, (".txt",))
        if path is not None:
            urls.extend(_read_lines(path))
    return urls


def _mrw_media_url(item: dict) -> str:
    images = item.get("images") if isinstance(item.get("images"), dict) else {}
    for candidate in (
        images.get("mp4_url"),
        (images.get("original") or {}).get("mp4")
        if isinstance(images.get("original"), dict)
        else None,
        item.get("mp4_url"),
        item.get("url"),
    ):
        if isinstance(candidate, str) and candidate.startswith(("http://", "https://")):
            return candidate
    return ""


def read_mrw_v1(json_path: str | Path, splits_dir: str | Path) -> Release:
    """MRW v1.0 pairs of the three published splits (one video per sentence)."""
    split_of = _read_splits(splits_dir, (".tsv", ".txt"), str.strip, required=SPLITS)
    path = Path(json_path)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReleaseError(f"MRW JSON not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(items, list):
        raise ReleaseError(f"{path}: expected a JSON list of {{id, sentence, images}} objects")
    report = ImportReport("mrw-v1")
    pairs: list[ReleasePair] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("sentence"), str):
            report.skipped["malformed_item"] += 1
            continue
        item_id = str(item.get("id", "")).strip()
        sentence = " ".join(item["sentence"].split())
        if not item_id or not sentence:
            report.skipped["malformed_item"] += 1
        elif not is_safe_id(item_id):  # ids become file names: never a path
            report.skipped["unsafe_id"] += 1
        elif item_id in seen:
            report.skipped["duplicate_id"] += 1
        elif item_id not in split_of:
            report.skipped["not_in_any_split"] += 1
        else:
            seen.add(item_id)
            split = split_of[item_id]
            source = str(item.get("source") or "reddit")
            pairs.append(
                ReleasePair(item_id, item_id, sentence, _mrw_media_url(item), split, source)
            )
    missing = len(set(split_of) - seen)
    if missing:
        report.skipped["listed_but_not_in_json"] = missing
    if not pairs:
        raise ReleaseError(f"{path}: no item of the JSON is listed in the split files")
    pairs.sort(key=lambda p: (SPLITS.index(p.split), p.id))
    return Release("mrw-v1", pairs, report)


def find_local_video(videos_dir: Path, video_id: str) -> Path | None:
    """`{videos_dir}/{video_id}.mp4|.gif|.webm`, if the user has the release's media.

    Only files inside `videos_dir` are found: an id that is a path, or a link pointing out
    of the folder, finds nothing.
    """
    for suffix in MEDIA_EXTENSIONS:
        try:
            path = confined(videos_dir, f"{video_id}{suffix}")
        except UnsafeInputError:
            return None
        if is_safe_id(video_id) and path.is_file():
            return path
    return None


def find_local_media(media_dir: Path, relative: str) -> Path | None:
    """`{media_dir}/{relative}`, else `{media_dir}/{file name}` (a flat folder of the files)."""
    for path in (media_dir / relative, media_dir / Path(relative).name):
        if path.is_file():
            return path
    return None


def _select(
    release: Release, videos_dir: Path | None
) -> dict[str, list[tuple[ReleasePair, Path | None]]]:
    """Pairs per split that can be written, with their local video; the rest counted as skipped.

    Only file names are checked here (cheap); media is read and probed while writing.
    """
    selected: dict[str, list[tuple[ReleasePair, Path | None]]] = {split: [] for split in SPLITS}
    local: dict[str, Path | None] = {}
    for pair in release.pairs:
        if videos_dir is None:
            if not pair.media_url:
                release.report.skipped["no_media_url"] += 1
                continue
            selected[pair.split].append((pair, None))
            continue
        if pair.video_id not in local:
            local[pair.video_id] = (
                find_local_media(videos_dir, pair.media_path)
                if pair.media_path
                else find_local_video(videos_dir, pair.video_id)
            )
        if local[pair.video_id] is None:
            release.report.skipped["missing_video"] += 1
        else:
            selected[pair.split].append((pair, local[pair.video_id]))
    return {split: pairs for split, pairs in selected.items() if pairs}


def _rows(
    split: str, pairs: list[tuple[ReleasePair, Path | None]], report: ImportReport
) -> Iterator:
    """Rows of one split, streamed: each video is read and probed once, when first needed.

    Counts the videos and pairs written into `report` as it goes.
    """
    from mrw.dataset import VideoRow
    from mrw.media.frames import FrameDecodeError

    videos: set[str] = set()
    captioned: set[str] = set()
    current: tuple[str, VideoRow | None] = ("", None)  # pairs of one video are adjacent
    for pair, path in pairs:
        metadata = {"source": pair.source, "media_url": pair.media_url or None}
        if path is None:
            row = VideoRow(id=pair.id, video_id=pair.video_id, sentence=pair.sentence, **metadata)
        else:
            if current[0] != pair.video_id:
                try:
                    current = (
                        pair.video_id,
                        VideoRow.from_media(
                            path.read_bytes(),
                            id=pair.id,
                            video_id=pair.video_id,
                            sentence=pair.sentence,
                            **metadata,
                        ),
                    )
                except FrameDecodeError as exc:
                    current = (pair.video_id, None)
                    report.undecodable[pair.video_id] = str(exc)
            if current[1] is None:
                report.skipped["undecodable_video"] += 1
                continue
            row = dataclasses.replace(current[1], id=pair.id, sentence=pair.sentence)
        videos.add(row.video_id)
        if row.sentence:
            captioned.add(row.video_id)
            report.pairs[split] += 1
        yield row
    report.videos[split] = len(videos)
    if videos - captioned:
        report.videos_without_sentence[split] = len(videos - captioned)


def import_release(
    release: Release,
    out_dir: str | Path,
    videos_dir: str | Path | None = None,
    progress: bool = True,
) -> ImportReport:
    """Write a release as an MRW-format dataset folder (+ qrels and `import.json`).

    Without `videos_dir` the folder holds the URL-only config (pairs without a media URL are
    skipped); with it, both configs (a pair with a local video but no URL gets a null
    `media_url`, counted in the card), for the pairs whose video file is there and decodes
    (`{video_id}.mp4|.gif|.webm`; the others are counted as `missing_video` and
    `undecodable_video`). Media is streamed, never all in memory.
    """
    from mrw.dataset import build_dataset
    from mrw.dataset.qrels import write_split_qrels
    from mrw.dataset.writer import check_dataset_output

    check_dataset_output(out_dir)
    selected = _select(release, Path(videos_dir) if videos_dir is not None else None)
    if not selected:
        raise ReleaseError(
            f"nothing to import from {release.name}: every pair was skipped "
            f"({dict(release.report.skipped)})"
        )
    configs = ("default", "urls") if videos_dir is not None else ("urls",)
    pretty = {
        "tgif": "TGIF",
        "mrw-v1": "MRW v1.0",
        "coco": "MS-COCO (Karpathy splits)",
        "flickr30k": "Flickr30K (Karpathy splits)",
    }.get(release.name, release.name)
    rows = {split: _rows(split, pairs, release.report) for split, pairs in selected.items()}

    def finish(folder: Path) -> None:  # inside the folder before it is swapped into place
        write_split_qrels(folder, selected)
        report = release.report.as_dict()
        report["configs"] = list(configs)
        with atomic_write(folder / IMPORT_FILE, "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
            handle.write("\n")

    card = {"citation": TGIF_CITATION} if release.name == "tgif" else {}
    build_dataset(
        rows,
        out_dir,
        configs=configs,
        pretty_name=pretty,
        card_metadata=card,
        progress=progress,
        finish=finish,
    )
    return release.report


def format_import(report: ImportReport) -> str:
    """Per-split videos and pairs, then what was skipped and why."""
    lines = [f"{'split':<12}{'videos':>10}{'pairs':>10}{'no sentence':>13}"]
    for split in SPLITS:
        if split in report.videos:
            lines.append(
                f"{split:<12}{report.videos[split]:>10,}{report.pairs[split]:>10,}"
                f"{report.videos_without_sentence[split]:>13,}"
            )
    lines += [f"skipped {reason}: {n:,}" for reason, n in sorted(report.skipped.items())]
    lines += [f"  {video}: {why}" for video, why in sorted(report.undecodable.items())[:5]]
    if report.videos_without_sentence:
        lines.append(
            "videos without a sentence are kept (empty sentence) and left out of the qrels"
        )
    return "\n".join(lines)
