"""The toy set's retrieval ceiling: expected recall under random tie-breaking, and
`mrw toy --ceiling`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mrw.cli import main as mrw_main
from mrw.toy.ceiling import Bounds, bounds, expected_recall, match_matrix
from mrw.toy.video import ToyConfig, toy_scenes


def test_expected_recall_hand_computed() -> None:
    # Query 0 ties with 1 other document, query 1 is alone, query 2 ties with all three.
    matches = np.array([[1, 1, 0], [0, 1, 0], [1, 1, 1]], dtype=bool)
    recall = expected_recall(matches)
    assert recall["R@1"] == pytest.approx(100 * (1 / 2 + 1 + 1 / 3) / 3)
    assert recall["R@5"] == recall["R@10"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="its own document"):
        expected_recall(np.zeros((2, 2), dtype=bool))


def test_expected_recall_is_the_mean_of_random_tie_breaks() -> None:
    rng = np.random.default_rng(0)
    matches = rng.random((40, 40)) < 0.3
    np.fill_diagonal(matches, True)
    ranks = []
    for _ in range(2000):  # a perfect model's scores, ties broken by tiny noise
        scores = matches + rng.random(matches.shape) * 1e-3
        ranks.append((scores > scores.diagonal()[:, None]).sum(axis=1))
    ranks = np.array(ranks)
    for k in (1, 5, 10):
        assert expected_recall(matches)[f"R@{k}"] == pytest.approx(
            100 * (ranks < k).mean(), abs=0.5
        )


def test_matches_follow_the_sentences() -> None:
    config = ToyConfig(num_pairs=60, seed=3)
    matches = match_matrix(config, "train")
    rows = list(toy_scenes(config, "train", config.split_sizes()["train"]))
    assert matches.diagonal().all()  # each sentence describes an object of its own clip
    for i, (_, sentence, named) in enumerate(rows):
        assert named and all(value in sentence for value in named.values())
        for j, (scene, _, _) in enumerate(rows):
            fits = any(
                all(dict(m.attributes).get(key) == value for key, value in named.items())
                for m in scene.moments
            )
            assert matches[i, j] == fits


def test_ceiling_lies_far_above_chance_and_below_perfect() -> None:
    result = bounds(ToyConfig(num_pairs=300), "test")
    assert result.pairs == 40
    assert Bounds.rsum(result.chance) == pytest.approx(2 * 100 * (1 + 5 + 10) / 40)
    assert 3 * Bounds.rsum(result.chance) < Bounds.rsum(result.ceiling) < 600


def test_cli_prints_the_bounds_and_builds_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mrw_main(["toy", "--ceiling", "--num-pairs", "150", "--out", str(tmp_path / "toy")]) == 0
    out = capsys.readouterr().out
    assert "validation split, 10 pairs" in out and "test split, 20 pairs" in out
    assert out.count("ceiling") == 2 and out.count("chance") == 2
    assert not (tmp_path / "toy").exists()
