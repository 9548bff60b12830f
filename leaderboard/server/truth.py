"""The ground truth the server scores against: one qrels pair per split, loaded once.

`--truth DIR` is either one split (DIR holds `t2v.qrels` and `v2t.qrels`) or a dataset's
`qrels/` folder with one sub-folder per split (`validation/`, `test/`, ...; a `train/` folder
there is not offered: nobody ranks the training data). Public splits
(validation by default) are scored with per-query details; the others are hidden: a team
sees only the aggregate metrics, never which of its queries were right.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from leaderboard.board import truth_fingerprint
from leaderboard.errors import LeaderboardError
from leaderboard.qrels import Qrels
from leaderboard.score import DIRECTIONS, load_truth

NOT_OFFERED = ("train",)  # split folders of a qrels folder that are never scored


@dataclass(frozen=True)
class Split:
    """One split's qrels (by direction), fingerprint and visibility."""

    name: str
    qrels: dict[str, Qrels]
    sha256: str
    public: bool


@dataclass(frozen=True)
class Truth:
    """Every split the server scores, under one dataset label."""

    dataset: str
    splits: dict[str, Split]
    default_split: str

    def public_splits(self) -> list[str]:
        """Names of the splits whose per-query details may be shown, in `splits` order."""
        return [name for name, split in self.splits.items() if split.public]


def _has_qrels(folder: Path) -> bool:
    return all((folder / f"{d}.qrels").is_file() for d in DIRECTIONS)


def load(
    truth_dir: str | os.PathLike[str],
    dataset: str | None = None,
    public: tuple[str, ...] = ("validation",),
) -> Truth:
    """Read every split under `truth_dir` (qrels are parsed here, once, not per submission).

    Args:
        truth_dir: one split's folder, or a folder of split folders (all but `NOT_OFFERED`).
        dataset: the label shown on the board (default: the folder above `qrels/`).
        public: split names scored with per-query details.

    Returns:
        The `Truth`; its default split is `test` when present, else the only/first split.

    Raises:
        LeaderboardError, QrelsError: no qrels found, or a malformed qrels file.
    """
    root = Path(truth_dir).resolve()
    if not root.is_dir():
        raise LeaderboardError(f"{truth_dir}: ground-truth directory not found")
    if _has_qrels(root):
        folders = {root.name: root}
        parent = root.parent.parent if root.parent.name == "qrels" else root.parent
    else:
        folders = {
            p.name: p
            for p in sorted(root.iterdir())
            if p.is_dir() and p.name not in NOT_OFFERED and _has_qrels(p)
        }
        parent = root.parent if root.name == "qrels" else root
    if not folders:
        raise LeaderboardError(f"{truth_dir}: no t2v.qrels + v2t.qrels here or in its sub-folders")
    splits = {
        name: Split(name, load_truth(folder), truth_fingerprint(folder), name in public)
        for name, folder in folders.items()
    }
    default = "test" if "test" in splits else next(iter(splits))
    return Truth(dataset or parent.name or "dataset", splits, default)
