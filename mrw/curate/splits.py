"""Deterministic, grouped train/validation/test splits.

Rows are assigned by group (a near-duplicate cluster, or a video with several sentences), so
no group straddles two splits. Group order comes from a seeded hash of the group key, not
from input order, so the same rows and seed give the same splits on any machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from mrw.core.errors import MRWError


class SplitError(MRWError):
    """Split sizes that cannot be met."""


@dataclass(frozen=True)
class SplitSizes:
    """Rows per split."""

    train: int
    validation: int
    test: int

    @property
    def total(self) -> int:
        """Rows over all three splits."""
        return self.train + self.validation + self.test

    def as_dict(self) -> dict[str, int]:
        """`{"train": ..., "validation": ..., "test": ...}`."""
        return {"train": self.train, "validation": self.validation, "test": self.test}

    @classmethod
    def parse(cls, text: str) -> SplitSizes:
        """ "44107,1000,5000" (train,validation,test)."""
        try:
            train, validation, test = (int(v) for v in text.split(","))
        except ValueError:
            raise SplitError(
                f"sizes must be TRAIN,VALIDATION,TEST integers, got {text!r}"
            ) from None
        if min(train, validation, test) < 0:
            raise SplitError(f"sizes must not be negative, got {text!r}")
        return cls(train, validation, test)


# The published MRW v1.0 splits: 50,107 pairs.
MRW_SIZES = SplitSizes(train=44_107, validation=1_000, test=5_000)


def split_sizes(total: int, target: SplitSizes = MRW_SIZES) -> SplitSizes:
    """Sizes for `total` rows: `target` when there are exactly enough, else proportional.

    With more rows than `target`, validation and test keep their sizes and train takes the
    rest (evaluation stays comparable with the published numbers and no data is thrown away).
    With fewer, every split shrinks in proportion, but a split `target` gives rows keeps at
    least one (18 pairs at MRW's proportions: 16/1/1, not 16/0/2), so the harness can train,
    select and evaluate.

    Raises:
        SplitError: fewer rows than splits that need one.
    """
    if total >= target.total:
        return SplitSizes(total - target.validation - target.test, target.validation, target.test)
    wanted = [name for name, n in target.as_dict().items() if n > 0]
    if total < len(wanted):
        raise SplitError(
            f"{total} pairs are too few for the {', '.join(wanted)} splits (one pair each at "
            "least); collect more pairs or pass --sizes with fewer non-zero splits"
        )
    validation = round(total * target.validation / target.total)
    test = round(total * target.test / target.total)
    validation = max(validation, 1) if target.validation else 0
    test = max(test, 1) if target.test else 0
    if target.train and total - validation - test < 1:  # train keeps a row, taken from test
        test -= 1
    return SplitSizes(total - validation - test, validation, test)


def _order_key(seed: int, group: str) -> bytes:
    return hashlib.sha256(f"{seed}\x00{group}".encode()).digest()


def assign_splits(
    group_sizes: Mapping[str, int], sizes: SplitSizes, seed: int = 0
) -> dict[str, str]:
    """Map each group to a split so that each split gets its size in rows where possible.

    Groups are visited in seeded-hash order; test is filled first, then validation, and a
    group that would overflow a split goes to the next one (finally to train), so the
    evaluation splits get their exact sizes whenever enough small groups exist.
    """
    total = sum(group_sizes.values())
    if sizes.total != total:
        raise SplitError(f"split sizes add up to {sizes.total}, but there are {total} rows")
    remaining = {"test": sizes.test, "validation": sizes.validation}
    assignment: dict[str, str] = {}
    for group in sorted(group_sizes, key=lambda g: _order_key(seed, g)):
        n = group_sizes[group]
        split = next((s for s in ("test", "validation") if 0 < n <= remaining[s]), "train")
        if split != "train":
            remaining[split] -= n
        assignment[group] = split
    return assignment
