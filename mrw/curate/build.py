"""`mrw build`: cleaned pairs -> the MRW dataset folder (media + URL-only configs) and qrels.

Splits are assigned per near-duplicate group (`mrw.curate.splits`), so reposts of one GIF never
sit on both sides of a train/test boundary; the groups are recorded in `near_duplicates.json`
(`mrw.dataset.near_duplicates`), and a split holding one gets multi-positive qrels beside its
one-positive ones. Rows are written sorted by id, so the same clean output and seed always
give byte-identical parquet files.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from mrw.catalog import SPLITS
from mrw.core.atomic import atomic_write
from mrw.core.version import __version__
from mrw.curate.clean import CleanError, CleanRecord, read_kept, read_report
from mrw.curate.splits import MRW_SIZES, SplitError, SplitSizes, assign_splits, split_sizes
from mrw.dataset.near_duplicates import write_near_duplicates
from mrw.dataset.qrels import write_split_qrels

BUILD_FILE = "build.json"


@dataclass
class BuildReport:
    """What `build.json` records: enough to rebuild the same folder."""

    seed: int
    requested: dict[str, int]
    rows: dict[str, int]
    groups: int
    configs: list[str]
    clean: dict  # the `mrw clean` report (counts by reason, and its config)
    git_commit: str | None = None

    def as_dict(self) -> dict:
        """The fields plus the installed `mrw_version`, as written to `build.json`."""
        return {**asdict(self), "mrw_version": __version__}

    def card_text(self) -> str:
        """Provenance paragraph for the dataset card."""
        dropped = ", ".join(
            f"{n:,} {r}" for r, n in self.clean.get("dropped_by_reason", {}).items()
        )
        return (
            "## How this copy was built\n\n"
            f"`mrw build` (mrw-toolkit {__version__}, seed {self.seed}) from "
            f"{self.clean.get('kept', 0):,} pairs kept by `mrw clean` out of "
            f"{self.clean.get('total', 0):,} collected ({dropped or 'none dropped'}). Splits are "
            "assigned per near-duplicate group, so reposts of one GIF never straddle splits; "
            "`build.json` records the full configuration."
        )


def _row(record: CleanRecord):  # -> mrw.dataset.VideoRow
    from mrw.dataset.schema import VideoRow, sniff_extension
    from mrw.media.played_stream import played_stream_only

    try:
        data = Path(record.media_path).read_bytes()
    except OSError as exc:
        raise CleanError(
            f"{record.id}: media file {record.media_path} unreadable ({exc})"
        ) from None
    return VideoRow(
        id=record.id,
        video_id=record.video_id,
        sentence=record.sentence,
        video_bytes=played_stream_only(data),  # one video stream: every reader shows the same
        video_path=f"{record.video_id}{sniff_extension(data)}",
        source=record.source,
        post_url=record.post_url,
        media_url=record.media_url,
        created_utc=record.created_utc,
        num_frames=record.num_frames,
        fps=round(record.fps, 4),
        duration_s=round(record.duration_s, 4),
        width=record.width,
        height=record.height,
        sha256=record.sha256,
    )


def plan_splits(
    records: Sequence[CleanRecord], seed: int = 0, target: SplitSizes = MRW_SIZES
) -> dict[str, list[CleanRecord]]:
    """Records per split, grouped by `record.group`, each split sorted by id."""
    group_of = {r.id: r.group or r.id for r in records}
    group_sizes = Counter(group_of.values())
    assignment = assign_splits(group_sizes, split_sizes(len(records), target), seed)
    plan: dict[str, list[CleanRecord]] = {split: [] for split in SPLITS}
    for record in sorted(records, key=lambda r: r.id):
        plan[assignment[group_of[record.id]]].append(record)
    return plan


def build(
    clean_dir: str | Path,
    out_dir: str | Path,
    *,
    seed: int = 0,
    target: SplitSizes = MRW_SIZES,
    configs: Sequence[str] = ("default", "urls"),
    progress: bool = True,
) -> BuildReport:
    """Build the dataset folder from `mrw clean` output; returns the split sizes written."""
    from mrw.core.provenance import git_commit
    from mrw.dataset import build_dataset
    from mrw.dataset.writer import check_dataset_output

    check_dataset_output(out_dir)
    records = list(read_kept(clean_dir))
    if not records:
        raise CleanError(f"{clean_dir}: no kept pairs to build from")
    plan = plan_splits(records, seed, target)
    requested = split_sizes(len(records), target)
    for split, wanted in requested.as_dict().items():
        if wanted and not plan[split]:  # its near-duplicate groups were all too large for it
            groups = len({r.group or r.id for r in records})
            raise SplitError(
                f"the {split} split would be empty: {len(records)} pairs in {groups} "
                f"near-duplicate groups cannot fill train/validation/test sizes "
                f"{requested.train}/{requested.validation}/{requested.test}; collect more "
                "pairs or pass --sizes"
            )
    present = [split for split in SPLITS if plan[split]]
    report = BuildReport(
        seed=seed,
        requested=requested.as_dict(),
        rows={split: len(plan[split]) for split in SPLITS},
        groups=len({r.group or r.id for r in records}),
        configs=list(configs),
        clean=read_report(clean_dir),
        git_commit=git_commit(),
    )
    rows: Mapping[str, Iterator] = {split: (_row(r) for r in plan[split]) for split in present}

    def finish(folder: Path) -> None:  # inside the folder before it is swapped into place
        write_near_duplicates(folder, {r.video_id: r.group or r.id for r in records})
        write_split_qrels(folder, present)
        with atomic_write(folder / BUILD_FILE, "w") as handle:
            json.dump(report.as_dict(), handle, indent=2, sort_keys=True)
            handle.write("\n")

    build_dataset(
        rows,
        out_dir,
        configs=configs,
        pretty_name="MRW",
        description=report.card_text(),
        progress=progress,
        finish=finish,
    )
    return report
