"""`mrw stats`: the descriptive table of the MRW paper for any dataset in the MRW format.

Per split and overall: pairs, distinct videos, average frames and seconds per video,
average words per sentence, vocabulary size and average word frequency (words / vocabulary).
Only metadata columns are read (no media), so it takes seconds even for the full MRW.
Words are `mrw.core.text.words`: the one tokenizer's tokens that contain a letter or digit
(punctuation tokens are not words), so the vocabulary here is the one the models see.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from mrw.core.text import words
from mrw.dataset import read_table, resolve, split_files

STAT_LABELS = {
    "pairs": "pairs",
    "videos": "videos",
    "avg_frames": "avg. frames / video",
    "avg_duration_s": "avg. seconds / video",
    "avg_words": "avg. words / sentence",
    "vocabulary": "vocabulary size",
    "avg_word_frequency": "avg. word frequency",
}


@dataclass(frozen=True)
class SplitStats:
    """Descriptive statistics of one split (pairs, videos, mean frames/duration/words,
    vocabulary size, average word frequency = words / vocabulary)."""

    pairs: int
    videos: int
    avg_frames: float | None  # None when the frame counts are unknown (URL-only rows)
    avg_duration_s: float | None
    avg_words: float
    vocabulary: int
    avg_word_frequency: float


@dataclass(frozen=True)
class DatasetStats:
    """Per-split statistics and those of all splits together."""

    dataset: str
    splits: dict[str, SplitStats]
    total: SplitStats

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict: `{"dataset", "splits": {name: {...}}, "total": {...}}`."""
        return {
            "dataset": self.dataset,
            "splits": {name: asdict(s) for name, s in self.splits.items()},
            "total": asdict(self.total),
        }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _split_stats(rows: list[dict[str, Any]]) -> SplitStats:
    counts: Counter[str] = Counter()
    lengths = []
    for row in rows:
        tokens = words(row["sentence"])
        counts.update(tokens)
        lengths.append(len(tokens))
    per_video = {row["video_id"]: row for row in rows}  # one entry per video, not per sentence
    frames = [r["num_frames"] for r in per_video.values() if r["num_frames"] is not None]
    durations = [r["duration_s"] for r in per_video.values() if r["duration_s"] is not None]
    total_words = sum(lengths)
    return SplitStats(
        pairs=len(rows),
        videos=len(per_video),
        avg_frames=_mean(frames),
        avg_duration_s=_mean(durations),
        avg_words=_mean(lengths) or 0.0,
        vocabulary=len(counts),
        avg_word_frequency=total_words / len(counts) if counts else 0.0,
    )


Rows = dict[str, list[dict[str, Any]]]


def read_metadata(name_or_path: str | os.PathLike[str], config: str | None = None) -> Rows:
    """Per split, the rows' `video_id`, `sentence`, `num_frames`, `duration_s` (no media)."""
    directory = resolve(name_or_path)
    columns = ("video_id", "sentence", "num_frames", "duration_s")
    return {
        split: read_table(directory, split, columns, config).to_pylist()
        for split in split_files(directory, config)
    }


def compute_stats(
    name_or_path: str | os.PathLike[str], config: str | None = None, *, rows: Rows | None = None
) -> DatasetStats:
    """Statistics of a built folder (or `mrw`/`tgif`/`toy`), read from metadata columns only."""
    per_split = rows if rows is not None else read_metadata(name_or_path, config)
    return DatasetStats(
        dataset=str(name_or_path),
        splits={split: _split_stats(rows) for split, rows in per_split.items()},
        total=_split_stats([row for rows in per_split.values() for row in rows]),
    )


def _format(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def render_table(stats: DatasetStats) -> Any:
    """A rich table: statistics as rows, splits (then the total) as columns, like the paper."""
    from rich.table import Table

    table = Table(title=f"{stats.dataset}: descriptive statistics")
    table.add_column("")
    columns = {**stats.splits, "total": stats.total}
    for name in columns:
        table.add_column(name, justify="right")
    for key, label in STAT_LABELS.items():
        table.add_row(label, *(_format(getattr(s, key)) for s in columns.values()))
    return table


def integer_histogram(values: list[int], max_bins: int = 60) -> tuple[list[float], list[float]]:
    """(bin edges, share of values per bin) for integer counts: bins centred on integers
    (edges at k - 0.5), widened to whole multiples when the range needs more than
    `max_bins`; shares sum to 1, so a bar's height never exceeds 1 (a density of integer
    counts does, when bins are narrower than 1)."""
    if not values:
        return [], []
    low, high = min(values), max(values)
    width = max(1, -(-(high - low + 1) // max_bins))  # ceil
    edges = [low - 0.5 + width * i for i in range((high - low) // width + 2)]
    counts = [0] * (len(edges) - 1)
    for value in values:
        counts[int((value - low) // width)] += 1
    return edges, [count / len(values) for count in counts]


def plot_lengths(rows: Rows, out: Path, title: str) -> Path:
    """PNG histograms of words per sentence and frames per video, one series per split:
    bars centred on integer counts, heights the share of each split's sentences/videos."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mrw.core.atomic import atomic_write

    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for split, split_rows in rows.items():
        lengths = [len(words(r["sentence"])) for r in split_rows]
        frames = {r["video_id"]: r["num_frames"] for r in split_rows if r["num_frames"] is not None}
        for axis, values in ((left, lengths), (right, list(frames.values()))):
            edges, shares = integer_histogram(values)
            if shares:
                axis.stairs(shares, edges, label=split)
    left.set(xlabel="words per sentence", ylabel="share of sentences")
    right.set(xlabel="frames per video", ylabel="share of videos")
    left.legend()
    figure.suptitle(title)
    figure.tight_layout()
    with atomic_write(out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return out
