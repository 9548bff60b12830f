"""`mrw clean`: collected (post, media) items -> clean MRW pairs, each drop with its reason.

Stages run cheapest first, so expensive decoding is spent only on items that can still be
kept: title normalisation and filters, exact de-duplication by SHA-256, a decode check with
duration/frame bounds, then near-duplicate de-duplication by a perceptual video hash
(pHash and colour hash, `mrw.curate.videohash`).
The output folder holds `kept.jsonl` (what `mrw build` reads), `dropped.jsonl` (one line per
dropped item: id, reason, detail, duplicate_of) and `report.json` (counts and the config).
"""

from __future__ import annotations

import dataclasses
import json
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np

from mrw.collect.filters import FilterConfig
from mrw.collect.records import CollectedItem
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.progress import progress_bar
from mrw.core.text import unescape_html, words
from mrw.curate import videohash

# The reaction prefixes `mrw collect` accepts ("MRW ...", "MFW ...", "My reaction when ...").
REACTION_PREFIX = FilterConfig().title_regex()
# Very common English words: a title of several words with none of these is probably not English.
# fmt: off
ENGLISH_WORDS = frozenset((
    "a", "an", "the", "i", "me", "my", "you", "your", "he", "she", "it", "we", "they", "them",
    "his", "her", "their", "our", "is", "am", "are", "was", "were", "be", "been", "to", "of", "in",
    "on", "at", "for", "with", "and", "or", "but", "not", "no", "so", "that", "this", "what",
    "when", "how", "why", "who", "after", "before", "about", "just", "get", "got", "finally",
    "first", "one", "all", "out", "up", "do", "does", "did", "have", "has", "had", "can", "can't",
    "don't", "i'm", "it's",
))
# fmt: on


class Reason(str, Enum):
    """Why an item was dropped: stable codes for reports and `dropped.jsonl`."""

    EMPTY_TITLE = "empty_title"
    TITLE_TOO_SHORT = "title_too_short"
    TITLE_TOO_LONG = "title_too_long"
    NOT_ENGLISH = "not_english"
    DUPLICATE_SHA256 = "duplicate_sha256"
    DECODE_FAILED = "decode_failed"
    TOO_FEW_FRAMES = "too_few_frames"
    TOO_SHORT = "too_short"
    TOO_LONG = "too_long"
    NEAR_DUPLICATE = "near_duplicate"


@dataclass(frozen=True)
class CleanConfig:
    """All cleaning choices, recorded in `report.json` so a cleaned set can be reproduced."""

    strip_prefix: bool = False  # the original release keeps "MRW ..." in the sentence
    min_words: int = 2  # counted without the reaction prefix
    max_words: int = 64
    english_only: bool = True
    min_frames: int = 4
    min_duration_s: float = 0.2
    max_duration_s: float = 120.0
    hash_frames: int = videohash.HASH_FRAMES
    near_duplicate_bits: int = videohash.DEFAULT_MAX_DISTANCE  # pHash bits
    near_duplicate_colour_bits: int = videohash.DEFAULT_MAX_COLOUR_DISTANCE
    drop_near_duplicates: bool = True  # else keep them, grouped so they share a split
    workers: int = 4  # decode/hash threads (PyAV releases the GIL)


@dataclass
class CleanRecord:
    """A kept pair with the metadata of the dataset row (everything but the bytes)."""

    id: str
    video_id: str
    sentence: str
    title: str  # the post title as collected, before normalisation
    source: str
    post_url: str
    media_url: str
    media_path: str
    content_type: str
    created_utc: int
    sha256: str
    size: int
    num_frames: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    width: int = 0
    height: int = 0
    video_hash: str = ""
    group: str = ""  # near-duplicate cluster: the id of its earliest member

    def to_json(self) -> str:
        """One line of the kept-items JSONL: every field, sorted keys, UTF-8 kept."""
        return json.dumps(dataclasses.asdict(self), ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True)
class Dropped:
    """A dropped item: its id, the `Reason`, a human detail and, for duplicates, the kept id."""

    id: str
    reason: Reason
    detail: str = ""
    duplicate_of: str | None = None

    def to_json(self) -> str:
        """One line of `dropped.jsonl` (`duplicate_of` only when set)."""
        record = {"id": self.id, "reason": self.reason.value, "detail": self.detail}
        if self.duplicate_of is not None:
            record["duplicate_of"] = self.duplicate_of
        return json.dumps(record, ensure_ascii=False, sort_keys=True)


@dataclass
class CleanResult:
    """Outcome of cleaning: kept records, dropped items, the config and run counters."""

    kept: list[CleanRecord]
    dropped: list[Dropped]
    config: CleanConfig
    groups: int = 0  # near-duplicate clusters among the kept items
    decoded: int = 0  # videos probed and hashed
    seconds: float = 0.0  # wall time of the whole cleaning

    @property
    def reasons(self) -> Counter[str]:
        """Dropped items per `Reason` code."""
        return Counter(d.reason.value for d in self.dropped)

    def report(self) -> dict:
        """The `mrw clean` report: counts (total, kept, dropped by reason), kept bytes,
        near-duplicate groups, decoded videos, wall time (s, 2 decimals) and the config."""
        return {
            "total": len(self.kept) + len(self.dropped),
            "kept": len(self.kept),
            "dropped": len(self.dropped),
            "dropped_by_reason": dict(sorted(self.reasons.items())),
            "near_duplicate_groups": self.groups,
            "kept_bytes": sum(r.size for r in self.kept),
            "decoded_videos": self.decoded,
            "seconds": round(self.seconds, 2),
            "config": dataclasses.asdict(self.config),
        }


class CleanError(MRWError):
    """The collection or the cleaning output cannot be read."""


def normalize_title(title: str, strip_prefix: bool = False) -> str:
    """Undo HTML escaping (Reddit escapes twice: `&amp;amp;`), NFC, collapse whitespace."""
    text = unicodedata.normalize("NFC", unescape_html(title))
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zs", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    if strip_prefix:
        text = strip_reaction_prefix(text)
    return text


def strip_reaction_prefix(title: str) -> str:
    """ "MRW my code compiles" -> "my code compiles" (the whole title if it has no prefix)."""
    match = REACTION_PREFIX.match(title)
    return title[match.end() :].lstrip(" \t:,;-\u2013\u2014").strip() if match else title.strip()


def looks_english(text: str) -> bool:
    """A light heuristic for Reddit titles (too short for statistical language id).

    Mostly Latin letters, and a title of four or more words contains at least one very
    common English word.
    """
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return False
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    if latin / len(letters) < 0.9:
        return False
    body = words(text)
    return len(body) < 4 or any(w in ENGLISH_WORDS for w in body)


def title_reason(sentence: str, config: CleanConfig) -> tuple[Reason, str] | None:
    """The reason to drop a normalised title, or None to keep it."""
    if not sentence:
        return Reason.EMPTY_TITLE, ""
    n = len(words(strip_reaction_prefix(sentence)))
    if n < config.min_words:
        return Reason.TITLE_TOO_SHORT, f"{n} words < {config.min_words}"
    if n > config.max_words:
        return Reason.TITLE_TOO_LONG, f"{n} words > {config.max_words}"
    if config.english_only and not looks_english(sentence):
        return Reason.NOT_ENGLISH, ""
    return None


def _record(item: CollectedItem, sentence: str) -> CleanRecord:
    post = item.post
    return CleanRecord(
        id=post.id,
        video_id=post.id,
        sentence=sentence,
        title=post.title,
        source=f"reddit:r/{post.subreddit}",
        post_url=f"https://www.reddit.com{post.permalink}",
        media_url=item.media_url,
        media_path=str(item.media_path),
        content_type=item.content_type,
        created_utc=int(post.created_utc),
        sha256=item.sha256,
        size=item.size,
    )


def _inspect(record: CleanRecord, config: CleanConfig) -> tuple[Reason, str] | None:
    """Decode-check, check bounds and hash one video, filling `record`; a drop reason or None."""
    from mrw.media.frames import FrameDecodeError, verify

    try:
        info = verify(record.media_path)
    except FrameDecodeError as exc:
        return Reason.DECODE_FAILED, str(exc)
    record.num_frames = int(info.num_frames)
    record.fps = float(info.fps)
    record.duration_s = float(info.duration_s)
    record.width, record.height = int(info.width), int(info.height)
    if record.num_frames < config.min_frames:
        return Reason.TOO_FEW_FRAMES, f"{record.num_frames} frames < {config.min_frames}"
    if record.duration_s < config.min_duration_s:
        return Reason.TOO_SHORT, f"{record.duration_s:.2f}s < {config.min_duration_s}s"
    if record.duration_s > config.max_duration_s:
        return Reason.TOO_LONG, f"{record.duration_s:.2f}s > {config.max_duration_s}s"
    try:
        record.video_hash = videohash.to_hex(
            videohash.hash_video(record.media_path, config.hash_frames)
        )
    except FrameDecodeError as exc:
        return Reason.DECODE_FAILED, str(exc)
    return None


def clean(
    items: Iterable[CollectedItem], config: CleanConfig = CleanConfig(), progress: bool = True
) -> CleanResult:
    """Filter and de-duplicate collected items; every item ends kept or dropped with a reason.

    Among duplicates the earliest post (then the smallest id) is kept: that is the original
    and the others are reposts. The result does not depend on the order of `items`.
    """
    started = time.perf_counter()
    ordered = sorted(items, key=lambda it: (int(it.post.created_utc), it.post.id))
    dropped: list[Dropped] = []
    candidates: list[CleanRecord] = []
    first_by_sha: dict[str, str] = {}
    for item in ordered:
        sentence = normalize_title(item.post.title, config.strip_prefix)
        reason = title_reason(sentence, config)
        if reason is not None:
            dropped.append(Dropped(item.post.id, *reason))
        elif item.sha256 in first_by_sha:
            dropped.append(
                Dropped(item.post.id, Reason.DUPLICATE_SHA256, "", first_by_sha[item.sha256])
            )
        else:
            first_by_sha[item.sha256] = item.post.id
            candidates.append(_record(item, sentence))

    decodable: list[CleanRecord] = []
    if candidates:
        # The decoder's imports (PyTorch, PyAV: seconds) run once here; left to the first
        # call in every worker thread, they ran in all of them at once, contending for the
        # import lock and the GIL (~13 s).
        import mrw.media.frames  # noqa: F401
    with ThreadPoolExecutor(max(1, config.workers)) as pool:
        checks = pool.map(lambda r: _inspect(r, config), candidates)
        bar = progress_bar(
            checks, total=len(candidates), desc="decode+hash", unit="video", disable=not progress
        )
        for record, reason in zip(candidates, bar, strict=True):
            if reason is None:
                decodable.append(record)
            else:
                dropped.append(Dropped(record.id, *reason))

    kept, groups = _near_duplicates(decodable, config, dropped)
    dropped.sort(key=lambda d: d.id)
    return CleanResult(
        kept=kept,
        dropped=dropped,
        config=config,
        groups=groups,
        decoded=len(candidates),
        seconds=time.perf_counter() - started,
    )


def _near_duplicates(
    records: list[CleanRecord], config: CleanConfig, dropped: list[Dropped]
) -> tuple[list[CleanRecord], int]:
    """Cluster by perceptual hash; drop all but the earliest of each cluster, or group them."""
    if not records:
        return [], 0
    hashes = np.stack([videohash.from_hex(r.video_hash) for r in records])
    labels = videohash.near_duplicate_groups(
        hashes, config.near_duplicate_bits, config.near_duplicate_colour_bits
    )
    kept: list[CleanRecord] = []
    for record, label in zip(records, labels, strict=True):
        original = records[label]  # records are in posting order: the label is the earliest
        record.group = original.id
        if record is original or not config.drop_near_duplicates:
            kept.append(record)
        else:
            shape, colour = videohash.distances(
                videohash.from_hex(record.video_hash), videohash.from_hex(original.video_hash)
            )
            detail = f"{shape} pHash bits, {colour} colour bits"
            dropped.append(Dropped(record.id, Reason.NEAR_DUPLICATE, detail, original.id))
    return kept, len(set(labels.tolist()))


KEPT_FILE = "kept.jsonl"
DROPPED_FILE = "dropped.jsonl"
REPORT_FILE = "report.json"


def write_result(result: CleanResult, out_dir: str | Path) -> None:
    """Write the three output files atomically (kept, dropped, report)."""
    out = Path(out_dir)
    for name, lines in (
        (KEPT_FILE, (r.to_json() for r in result.kept)),
        (DROPPED_FILE, (d.to_json() for d in result.dropped)),
    ):
        with atomic_write(out / name, "w") as handle:
            for line in lines:
                handle.write(line + "\n")
    with atomic_write(out / REPORT_FILE, "w") as handle:
        json.dump(result.report(), handle, indent=2, sort_keys=True)
        handle.write("\n")


def read_kept(clean_dir: str | Path) -> Iterator[CleanRecord]:
    """The kept records of a `mrw clean` output folder."""
    path = Path(clean_dir) / KEPT_FILE
    if not path.is_file():
        raise CleanError(f"{clean_dir} has no {KEPT_FILE}: run `mrw clean` first")
    names = {f.name for f in dataclasses.fields(CleanRecord)}
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, 1):
            try:
                data = json.loads(raw.decode("utf-8"))
                yield CleanRecord(**{k: v for k, v in data.items() if k in names})
            except (UnicodeDecodeError, ValueError, TypeError, AttributeError) as exc:
                reason = " ".join(str(exc).split())[:120]
                raise CleanError(f"{path}:{number}: not a clean record ({reason})") from None


def read_report(clean_dir: str | Path) -> dict:
    """The `report.json` of a `mrw clean` output folder ({} if it has none)."""
    try:
        return json.loads((Path(clean_dir) / REPORT_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


def format_report(report: dict) -> str:
    """A short human-readable table of what was kept and why the rest was dropped."""
    lines = [f"items: {report['total']}  kept: {report['kept']}  dropped: {report['dropped']}"]
    lines += [f"  {reason:<18} {count:>8}" for reason, count in report["dropped_by_reason"].items()]
    lines.append(f"near-duplicate groups among kept: {report['near_duplicate_groups']}")
    rate = report["decoded_videos"] / report["seconds"] if report["seconds"] else 0.0
    lines.append(
        f"kept media: {report['kept_bytes'] / 1e6:,.1f} MB; decoded {report['decoded_videos']:,} "
        f"videos in {report['seconds']:,.1f} s ({rate:,.1f}/s)"
    )
    return "\n".join(lines)
