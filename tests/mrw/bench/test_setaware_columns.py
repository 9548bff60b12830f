"""`mrw-bench compare`'s set-aware columns: head usage, head cosine and the best single head
of runs with K > 1, mean over seeds; a table of one-embedding runs stays as it was."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mrw.bench.cli import main as bench_main
from mrw.bench.compare import compare_runs
from mrw.bench.setaware import usage
from mrw.bench.setaware_columns import HEADER, mean_head_cosine
from mrw.testing.run_records import write_metrics_json

DIRECTION = {"R@1": 10.0, "R@5": 20.0, "R@10": 30.0, "MedR": 9, "MeanR": 12.0, "nMR": 0.09,
             "queries": 100, "missing_queries": 0}  # fmt: skip
RSUM = 120.0  # R@1 + R@5 + R@10 of both directions above


def _summary(k: int, counts: list[int], cosine: float, head_rsums: list[float]) -> dict[str, Any]:
    """A set-aware summary as `mrw.bench.setaware.summarise` stores it: the same counts and
    head cosine on both sides."""
    matrix = [[1.0 if i == j else cosine for j in range(k)] for i in range(k)]
    recall = {"R@1": 0.0, "R@5": 0.0, "R@10": 0.0}
    return {
        "k": {"video": k, "text": k},
        "reduction": "max",
        "head_usage": {side: usage(np.array(counts)) for side in ("video", "text")},
        "margin": {"mean": 0.1, "median": 0.1},
        "head_cosine": {"video": matrix, "text": matrix},
        "head_recall": [{"t2v": recall, "v2t": recall, "rsum": r} for r in head_rsums],
    }


def _run(root: Path, name: str, k: int, seed: int = 0, set_aware: Any = None) -> Path:
    run_dir = root / "toy" / "pvse" / name
    run_dir.mkdir(parents=True)
    config = {"method": "pvse", "method_config": {"k": k}, "options": {"seed": seed}}
    (run_dir / "config.json").write_text(json.dumps(config))
    metrics = {"t2v": DIRECTION, "v2t": DIRECTION, "rsum": RSUM}
    write_metrics_json(run_dir, config, metrics, seed=seed, set_aware=set_aware)
    return run_dir


def _table(markdown: str) -> tuple[list[str], dict[str, list[str]]]:
    """(header cells, label -> row cells) of the one table in `markdown`."""
    lines = [line for line in markdown.splitlines() if line.startswith("| ")]
    header = [c.strip() for c in lines[0].strip(" |").split("|")]
    rows = {}
    for line in lines[1:]:
        cells = [c.strip() for c in line.strip(" |").split("|")]
        rows[cells[0]] = cells
    return header, rows


def test_multi_head_rows_get_usage_cosine_and_best_head_columns(tmp_path: Path) -> None:
    # two seeds of K=3: wins 6/2/2 and 4/4/2 of 10 pairs, head cosine 0.2 and 0.4
    _run(tmp_path, "k3-s0", 3, 0, _summary(3, [6, 2, 2], 0.2, [100.0, 90.0, 80.0]))
    _run(tmp_path, "k3-s1", 3, 1, _summary(3, [4, 4, 2], 0.4, [70.0, 110.0, 60.0]))
    _run(tmp_path, "k1", 1, 0, _summary(1, [10], 1.0, []))  # K = 1: no set-aware numbers
    comparison = compare_runs([tmp_path])
    header, rows = _table(comparison.to_markdown())
    assert header[-len(HEADER) - 1 : -1] == list(HEADER) and header[-1] == "Training data"
    k3 = dict(zip(header, rows["pvse (k=3)"], strict=True))
    ratios = [usage(np.array(c))["entropy_ratio"] for c in ([6, 2, 2], [4, 4, 2])]
    entropy_pct = 100 * sum(ratios) / 2
    assert k3["K (v/t)"] == "3 / 3"
    assert k3["Head use H/log K % (v/t)"] == f"{entropy_pct:.0f} / {entropy_pct:.0f}"
    assert k3["Top head % (v/t)"] == "50 / 50"  # 60 % and 40 %
    assert k3["Head cos (v/t)"] == "0.30 / 0.30"
    # the best head's rsum, 100 and 110, against the full rsum 120 of each seed
    assert k3["Best one head: rsum (Δ)"] == "105.0 (-15.0)"
    k1 = dict(zip(header, rows["pvse (k=1)"], strict=True))
    assert all(k1[name] == "–" for name in HEADER)
    # the JSON has every number with its spread over seeds, and null for K = 1
    by_label = {row["label"]: row for row in comparison.to_json()["tables"][0]["rows"]}
    summary = by_label["pvse (k=3)"]["set_aware"]
    assert summary["k"] == {"video": 3, "text": 3}
    spread = math.sqrt(sum((100 * r - entropy_pct) ** 2 for r in ratios))  # n - 1 = 1
    assert summary["usage_entropy_pct"]["text"] == {
        "mean": pytest.approx(entropy_pct),
        "std": pytest.approx(spread),
    }
    assert summary["top_head_share_pct"]["video"]["mean"] == pytest.approx(50.0)
    assert summary["head_cosine"]["video"] == {"mean": pytest.approx(0.3), "std": pytest.approx(
        math.sqrt(0.02))}  # fmt: skip
    assert summary["best_head_rsum"]["mean"] == pytest.approx(105.0)
    assert summary["best_head_gap"]["mean"] == pytest.approx(-15.0)
    assert by_label["pvse (k=1)"]["set_aware"] is None


def test_one_embedding_table_has_no_set_aware_columns_but_json_says_null(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _run(tmp_path, "old", 1)  # a record from before the set-aware evaluation
    _run(tmp_path, "k1", 1, 1, _summary(1, [10], 1.0, []))
    out = tmp_path / "cmp.json"
    assert bench_main(["compare", str(tmp_path), "--json", str(out)]) == 0
    header, _ = _table(capsys.readouterr().out)
    assert not set(HEADER) & set(header)
    (row,) = json.loads(out.read_text())["tables"][0]["rows"]
    assert row["set_aware"] is None


def test_a_seed_without_the_summary_leaves_the_numbers_out(tmp_path: Path) -> None:
    _run(tmp_path, "s0", 3, 0, _summary(3, [6, 2, 2], 0.2, [100.0, 90.0, 80.0]))
    _run(tmp_path, "s1", 3, 1)  # evaluated before the set-aware evaluation existed
    (group,) = compare_runs([tmp_path]).groups
    summary = group.stats["set_aware"]
    assert summary["usage_entropy_pct"] == {"video": None, "text": None}
    assert summary["best_head_rsum"] is None
    header, rows = _table(compare_runs([tmp_path]).to_markdown())
    cells = dict(zip(header, rows["pvse (k=3)"], strict=True))
    assert cells["Head cos (v/t)"] == "– / –" and cells["Best one head: rsum (Δ)"] == "–"


def test_mean_head_cosine_averages_the_pairs_above_the_diagonal() -> None:
    matrix = [[1.0, 0.1, 0.2], [0.1, 1.0, 0.6], [0.2, 0.6, 1.0]]
    assert mean_head_cosine(matrix) == pytest.approx(0.3)
    assert mean_head_cosine([[1.0]]) is None and mean_head_cosine(None) is None


@pytest.mark.parametrize(
    "broken",
    [{"k": {"video": "x", "text": 3}}, {"head_usage": {"video": {"counts": ["a", 1]}}},
     {"head_cosine": {"video": [[1.0, "x"], [0.0, 1.0]], "text": None}},
     {"head_recall": [{"rsum": "x"}, {"rsum": 1.0}]}, {"head_usage": []}],
)  # fmt: skip
def test_a_malformed_summary_is_one_error_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], broken: dict[str, Any]
) -> None:
    _run(tmp_path, "bad", 3, 0, {**_summary(3, [6, 2, 2], 0.2, [100.0, 90.0, 80.0]), **broken})
    assert bench_main(["compare", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "set_aware" in err
