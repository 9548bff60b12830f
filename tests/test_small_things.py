"""Issue 13.9's small things: the toy set's qrels and the `mrw qrels` export, the toy build's
progress total, integer-aligned length histograms, a gap between contact-sheet frames."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from run_records import write_metrics_json

from leaderboard.qrels import read_qrels
from mrw.dataset.stats import integer_histogram
from mrw.demo import frame_strip
from mrw.toy.video import ToyConfig

BIN = Path(sys.executable).parent


@pytest.mark.slow  # two interpreters
def test_toy_writes_qrels_with_a_progress_total_and_mrw_qrels_exports_them(tmp_path: Path) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MRW_CACHE": str(tmp_path / "cache")}
    toy = tmp_path / "toy"
    done = subprocess.run(
        [str(BIN / "mrw"), "toy", "--out", str(toy), "--num-pairs", "30"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    sizes = ToyConfig(num_pairs=30).split_sizes()
    for split, n in sizes.items():
        assert f"{n}/{n}" in done.stderr  # the bar knows its total: "24/24", not "24row"
        qrels = read_qrels(toy / "qrels" / split / "t2v.qrels")
        assert len(qrels.query_ids) == n

    truth = tmp_path / "truth"
    done = subprocess.run(
        [str(BIN / "mrw"), "qrels", str(toy), "--out", str(truth), "--split", "test",
         "--split", "validation"],
        check=False, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for split in ("test", "validation"):
        for direction in ("t2v", "v2t"):
            exported = (truth / split / f"{direction}.qrels").read_text()
            assert exported == (toy / "qrels" / split / f"{direction}.qrels").read_text()


def test_length_histogram_bars_sit_on_integers_and_are_shares() -> None:
    edges, shares = integer_histogram([3, 3, 4, 7])
    assert edges == [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
    assert shares == [0.5, 0.25, 0.0, 0.0, 0.25]
    wide_edges, wide = integer_histogram(list(range(1000)), max_bins=50)
    assert len(wide) <= 50 and sum(wide) == pytest.approx(1.0) and max(wide) <= 1.0
    assert all(float(edge - 0.5).is_integer() for edge in wide_edges)
    assert integer_histogram([]) == ([], [])


def test_contact_sheet_frames_are_separated_by_a_gap() -> None:
    frames = torch.zeros(3, 3, 4, 5, dtype=torch.uint8)
    strip = frame_strip(frames, gap=2)
    assert strip.shape == (3, 4, 3 * 5 + 2 * 2)
    assert bool((strip[:, :, 5:7] == 255).all()) and bool((strip[:, :, 12:14] == 255).all())
    assert bool((strip[:, :, :5] == 0).all())


def test_compare_heading_names_the_dataset_not_its_path(tmp_path: Path) -> None:
    import json

    from mrw.bench.compare import compare_runs

    direction = {"R@1": 10.0, "R@5": 20.0, "R@10": 30.0, "MedR": 9, "MeanR": 12.0, "nMR": 0.09,
                 "queries": 100, "missing_queries": 0}  # fmt: skip
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    config = {"method": "vsepp", "options": {"seed": 0}}
    (run_dir / "config.json").write_text(json.dumps(config))
    metrics = {"t2v": direction, "v2t": direction, "rsum": 120.0}
    write_metrics_json(run_dir, config, metrics, dataset=str(tmp_path / "demo-out" / "toy"))
    markdown = compare_runs([tmp_path / "runs"]).to_markdown()
    assert markdown.startswith("**toy / test**")  # as the leaderboard names it
    assert str(tmp_path) not in markdown
