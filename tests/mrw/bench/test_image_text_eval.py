"""MS-COCO's 1K protocol (mean over 5 folds of 1,000 test images) against a brute-force
computation written the way VSE++'s and PVSE's `evalrank(fold5=True)` compute it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from mrw.bench.evaluator import evaluate_scores, fold_metrics, mean_metrics
from mrw.testing.run_records import write_metrics_json


def _brute_force(scores: np.ndarray, pair_image: np.ndarray) -> dict[str, dict[str, float]]:
    """i2t: an image's rank is the best rank of its captions; t2i: the rank of the caption's
    image; R@K in percent, MedR = floor(median 0-based rank) + 1, MeanR = mean rank + 1."""
    n_images, n_captions = scores.shape
    i2t = np.empty(n_images)
    for i in range(n_images):
        order = list(np.argsort(-scores[i], kind="stable"))
        i2t[i] = min(order.index(j) for j in range(n_captions) if pair_image[j] == i)
    t2i = np.empty(n_captions)
    for j in range(n_captions):
        order = list(np.argsort(-scores[:, j], kind="stable"))
        t2i[j] = order.index(pair_image[j])

    def metrics(ranks: np.ndarray) -> dict[str, float]:
        out = {f"R@{k}": 100.0 * np.mean(ranks < k) for k in (1, 5, 10)}
        return {**out, "MedR": np.floor(np.median(ranks)) + 1, "MeanR": ranks.mean() + 1}

    return {"v2t": metrics(i2t), "t2v": metrics(t2i)}


def test_five_fold_average_matches_brute_force():
    folds, fold_size, per_image = 5, 40, 5  # COCO: 5 x 1,000 images; smaller here, same code
    n_images = folds * fold_size
    generator = torch.Generator().manual_seed(0)
    pair_image = torch.arange(n_images).repeat_interleave(per_image)
    # Scores that carry signal (the true image scores higher on average) and no ties.
    scores = torch.randn(n_images, n_images * per_image, generator=generator)
    scores[pair_image, torch.arange(len(pair_image))] += 2.0
    image_ids = [f"img{i:04d}" for i in range(n_images)]
    caption_ids = [f"img{i // per_image:04d}#{i % per_image}" for i in range(len(pair_image))]
    whole = evaluate_scores(scores, image_ids, caption_ids, pair_image)

    result = fold_metrics(whole, pair_image, folds, fold_size)

    expected = []
    for f in range(folds):
        rows = slice(f * fold_size, (f + 1) * fold_size)
        cols = slice(f * fold_size * per_image, (f + 1) * fold_size * per_image)
        expected.append(
            _brute_force(scores[rows, cols].numpy(), pair_image[cols].numpy() - f * fold_size)
        )
    for direction in ("v2t", "t2v"):
        for name in ("R@1", "R@5", "R@10", "MedR", "MeanR"):
            per_fold = [e[direction][name] for e in expected]
            assert [m[direction][name] for m in result["per_fold"]] == pytest.approx(per_fold)
            assert result["metrics"][direction][name] == pytest.approx(np.mean(per_fold))
    assert result["metrics"]["rsum"] == pytest.approx(
        sum(np.mean([e[d][f"R@{k}"] for e in expected]) for d in ("v2t", "t2v") for k in (1, 5, 10))
    )
    assert result["metrics"]["v2t"]["queries"] == fold_size
    assert result["metrics"]["t2v"]["queries"] == fold_size * per_image
    # 5K: the whole split, one gallery, also as brute force computes it
    full = _brute_force(scores.numpy(), pair_image.numpy())
    for direction in ("v2t", "t2v"):
        for name in ("R@1", "R@5", "R@10", "MedR", "MeanR"):
            assert whole.metrics.to_json()[direction][name] == pytest.approx(full[direction][name])
    # A fold is easier than the whole split: fewer distractors
    assert result["metrics"]["rsum"] > whole.metrics.to_json()["rsum"]


def test_folds_need_enough_images():
    scores = torch.randn(10, 50)
    pair_image = torch.arange(10).repeat_interleave(5)
    whole = evaluate_scores(
        scores, [str(i) for i in range(10)], [str(i) for i in range(50)], pair_image
    )
    with pytest.raises(ValueError, match="need 15 images"):
        fold_metrics(whole, pair_image, 5, 3)


def test_mean_metrics_averages_every_number():
    a = {"t2v": {"R@1": 10.0, "MedR": 2, "queries": 4}, "v2t": {"R@1": 0.0}, "rsum": 10.0}
    b = {"t2v": {"R@1": 20.0, "MedR": 3, "queries": 4}, "v2t": {"R@1": 5.0}, "rsum": 25.0}
    assert mean_metrics([a, b]) == {
        "t2v": {"R@1": 15.0, "MedR": 2.5, "queries": 4.0},
        "v2t": {"R@1": 2.5},
        "rsum": 17.5,
    }


def _record(root, method: str, seed: int, signal: float) -> None:
    """A COCO-style run record whose 5K metrics and 1K folds come from real score matrices."""
    import json

    n_images, per_image = 20, 5
    generator = torch.Generator().manual_seed(seed)
    pair_image = torch.arange(n_images).repeat_interleave(per_image)
    scores = torch.randn(n_images, n_images * per_image, generator=generator)
    scores[pair_image, torch.arange(len(pair_image))] += signal
    ids = [f"{i}#{k}" for i in range(n_images) for k in range(per_image)]
    whole = evaluate_scores(scores, [str(i) for i in range(n_images)], ids, pair_image)
    config = {"method": method, "visual": "image", "options": {"dataset": "coco", "seed": seed}}
    run_dir = root / "coco" / method / f"{method}-{seed}"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(config))
    folds = fold_metrics(whole, pair_image, 5, 4)
    write_metrics_json(
        run_dir, config, whole.metrics.to_json(), dataset="coco", seed=seed, folds=folds
    )


def test_compare_prints_table2_layout(tmp_path):
    from mrw.bench.compare import compare_runs

    _record(tmp_path, "pvse", 0, 3.0)
    _record(tmp_path, "pvse", 1, 3.0)
    _record(tmp_path, "vsepp", 0, 1.0)
    comparison = compare_runs([tmp_path])
    table = comparison.to_markdown()
    header = next(line for line in table.splitlines() if line.startswith("| Method"))
    # Table 2: the fold block (here 5 folds of 4 images: "4 ...") then the whole split ("20 ...")
    assert header.index("4 Text → Image R@1") < header.index("4 Image → Text R@1")
    assert header.index("4 rsum") < header.index("20 Text → Image R@1") < header.index("20 rsum")
    pvse = next(g for g in comparison.groups if g.method == "pvse")
    expected_1k = np.mean([r.folds["metrics"]["t2v"]["R@1"] for r in pvse.runs])
    assert pvse.stats["folds"]["t2v"]["R@1"].mean == pytest.approx(expected_1k)
    assert pvse.stats["t2v"]["R@1"].mean == pytest.approx(
        np.mean([r.metrics.t2v.value("R@1") for r in pvse.runs])
    )
    row = next(line for line in table.splitlines() if line.startswith("| pvse"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == "2" and cells[2].strip("*").startswith(f"{expected_1k:.2f} ± ")
    assert len(cells) == len(header.strip("|").split("|"))
    data = comparison.to_json()["tables"][0]["rows"][0]
    assert "folds" in data and "mean" in data["folds"]["rsum"]


def test_chance_rsum_counts_every_relevant_caption():
    from mrw.bench.compare import chance_rsum

    def doc(images: int, captions: int) -> SimpleNamespace:  # what chance_rsum reads of Metrics
        return SimpleNamespace(
            v2t=SimpleNamespace(queries=images), t2v=SimpleNamespace(queries=captions)
        )

    assert chance_rsum(doc(100, 100)) == pytest.approx(32.0)  # one per video: 3 x (k / n)
    # 2 images x 1 caption: every k covers the gallery
    assert chance_rsum(doc(2, 2)) == pytest.approx(50 + 100 + 100 + 50 + 100 + 100)
    # 60 images, 5 captions each: i2t R@1 = 5/300; R@5 = 1 - C(295,5)/C(300,5)
    i2t_r5 = 100 * (1 - np.prod([(295 - i) / (300 - i) for i in range(5)]))
    expected = 100 / 60 * (1 + 5 + 10) + 100 * 5 / 300 + i2t_r5
    i2t_r10 = 100 * (1 - np.prod([(295 - i) / (300 - i) for i in range(10)]))
    assert chance_rsum(doc(60, 300)) == pytest.approx(expected + i2t_r10)
