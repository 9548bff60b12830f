"""The toy set's retrieval ceiling: what a model that perceives every clip perfectly can score.

A toy sentence names one of its clip's 2–3 moments, an object often only partially, so
several clips fit it ("something red appears", "night falls") and several sentences fit each
clip. A perfect reader scores a (clip, sentence) pair as matching when one moment of the clip
has every attribute the sentence names, and can only guess among the tied matches. Its
expected recall is the ceiling toy results should be read against; random ranking (every pair
tied) is the floor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mrw.toy.video import ToyConfig, toy_scenes

CUTOFFS = (1, 5, 10)


@dataclass(frozen=True)
class Bounds:
    """Expected R@k (%) per direction and their sum, for the ceiling and for chance."""

    split: str
    pairs: int
    ceiling: dict[str, dict[str, float]]  # {"t2v": {"R@1": ...}, "v2t": {...}}
    chance: dict[str, dict[str, float]]

    @staticmethod
    def rsum(recalls: dict[str, dict[str, float]]) -> float:
        return sum(sum(direction.values()) for direction in recalls.values())


def match_matrix(config: ToyConfig, split: str) -> np.ndarray:
    """`[sentences, clips]`: whether the clip has a moment with every attribute the sentence
    names."""
    count = config.split_sizes()[split]
    rows = list(toy_scenes(config, split, count))
    scenes = [scene for scene, _, _ in rows]
    named = [attributes for _, _, attributes in rows]
    return np.array(
        [
            [any(moment.matches(attributes) for moment in scene.moments) for scene in scenes]
            for attributes in named
        ]
    )


def expected_recall(matches: np.ndarray) -> dict[str, float]:
    """Expected R@k (%) when query i's relevant document is i and ties are broken at random.

    With m documents tied at the top (the relevant one among them), it lands in the top k
    with probability min(k, m) / m.
    """
    if not matches.diagonal().all():
        raise ValueError("every query must match its own document")
    tied = matches.sum(axis=1)
    return {f"R@{k}": float(100 * np.mean(np.minimum(k, tied) / tied)) for k in CUTOFFS}


def bounds(config: ToyConfig, split: str = "test") -> Bounds:
    matches = match_matrix(config, split)
    everything = np.ones_like(matches)
    return Bounds(
        split,
        len(matches),
        ceiling={"t2v": expected_recall(matches), "v2t": expected_recall(matches.T)},
        chance={"t2v": expected_recall(everything), "v2t": expected_recall(everything)},
    )


def format_bounds(result: Bounds) -> str:
    def row(name: str, recalls: dict[str, dict[str, float]]) -> str:
        cells = "".join(f"{recalls[d][f'R@{k}']:9.1f}" for d in ("t2v", "v2t") for k in CUTOFFS)
        return f"{name:<8}{cells}{Bounds.rsum(recalls):9.1f}"

    header = (
        " " * 8
        + "".join(f"{d} R@{k}".rjust(9) for d in ("t2v", "v2t") for k in CUTOFFS)
        + "rsum".rjust(9)
    )
    return "\n".join(
        [
            f"{result.split} split, {result.pairs} pairs (expected recall, %):",
            header,
            row("ceiling", result.ceiling),
            row("chance", result.chance),
        ]
    )
