"""Paired significance in `mrw-bench compare`: per-query shares of rsum, t-tests, the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from leaderboard.metrics import combine, ranks_to_metrics
from mrw.bench.cli import main as bench_main
from mrw.bench.compare import compare_runs
from mrw.bench.significance import pair_scores, paired_t_p
from mrw.testing.run_records import write_metrics_json

QUERIES = 60


def write_ranked_run(root: Path, name: str, k: int, seed: int, ranks: np.ndarray) -> Path:
    """A run record whose metrics come from `ranks` (t2v and v2t alike) by the scorer's code."""
    run_dir = root / "toy" / "pvse" / f"{name}-s{seed}"
    run_dir.mkdir(parents=True)
    config = {
        "method": "pvse",
        "method_config": {"k": k},
        "options": {"dataset": "toy", "seed": seed, "run_id": run_dir.name},
    }
    direction = ranks_to_metrics(ranks, gallery_size=QUERIES)
    ids = [f"q{i}" for i in range(QUERIES)]
    t2v = {"queries": ids, "ranks": ranks.tolist(), "videos": [f"v{i}" for i in range(QUERIES)]}
    v2t = {"queries": [f"v{i}" for i in range(QUERIES)], "ranks": ranks.tolist()}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "query_ranks.json").write_text(json.dumps({"t2v": t2v, "v2t": v2t}))
    write_metrics_json(run_dir, config, combine(direction, direction).to_json(), seed=seed)
    return run_dir


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """K=3 ranks most queries higher than K=1 on every seed; K=4 is K=3's exact copy."""
    rng = np.random.default_rng(0)
    for seed in range(4):
        worse = rng.integers(1, QUERIES + 1, QUERIES)
        better = np.maximum(1, worse // 4)
        write_ranked_run(tmp_path, "k1", 1, seed, worse)
        write_ranked_run(tmp_path, "k3", 3, seed, better)
        write_ranked_run(tmp_path, "k4", 4, seed, better)
    return tmp_path


def test_pair_shares_sum_to_rsum_with_one_observation_per_pair(runs: Path) -> None:
    for run_dir in sorted(runs.glob("toy/pvse/*")):
        record = json.loads((run_dir / "metrics.json").read_text())
        scores = pair_scores(run_dir)
        assert scores.shape == (QUERIES,)  # 60 pairs, not 120 queries
        assert scores.sum() == pytest.approx(record["metrics"]["rsum"])
    assert pair_scores(runs) is None  # no ranks recorded: no query-level test


def test_a_pair_adds_its_two_directions_and_all_sentences_of_its_video(tmp_path: Path) -> None:
    ranks = {
        # sentences s0, s1 of video b and s2 of video a; v2t lists a before b
        "t2v": {"queries": ["s0", "s1", "s2"], "ranks": [1, 7, 20], "videos": ["b", "b", "a"]},
        "v2t": {"queries": ["a", "b"], "ranks": [3, 11]},
    }
    (tmp_path / "query_ranks.json").write_text(json.dumps(ranks))
    t2v_share, v2t_share = 100 / 3, 100 / 2  # per hit at k = 1, 5, 10
    expected = [0 * t2v_share + 2 * v2t_share, (3 + 1) * t2v_share + 0 * v2t_share]
    assert pair_scores(tmp_path).tolist() == pytest.approx(expected)
    del ranks["t2v"]["videos"]  # a record from before the map: no pair-level test
    (tmp_path / "query_ranks.json").write_text(json.dumps(ranks))
    assert pair_scores(tmp_path) is None


def test_paired_t_p_is_students_paired_t_test() -> None:
    a = np.array([3.0, 5.0, 4.0, 7.0, 6.0])
    b = np.array([2.0, 5.5, 1.0, 4.0, 3.0])
    d = a - b
    t = d.mean() / (d.std(ddof=1) / math.sqrt(len(d)))
    assert paired_t_p(d) == pytest.approx(2 * stats.t.sf(abs(t), df=len(d) - 1))
    assert paired_t_p(d) == pytest.approx(stats.ttest_rel(a, b).pvalue)
    assert paired_t_p(np.zeros(4)) == 1.0 and paired_t_p(np.ones(1)) is None


def test_compare_tests_every_row_against_the_named_one(runs: Path) -> None:
    comparison = compare_runs([runs])
    comparison.add_tests(["pvse (k=1)"])
    tests = {t.a: t for t in comparison.tests}
    assert set(tests) == {"pvse (k=3)", "pvse (k=4)"} and all(
        t.b == "pvse (k=1)" for t in tests.values()
    )
    k3 = tests["pvse (k=3)"]
    assert k3.seeds == [0, 1, 2, 3] and k3.wins == 4 and k3.mean_diff > 0
    assert k3.p_seeds < 0.01 and all(p < 0.05 for p in k3.p_queries)
    comparison.add_tests(["k=4"])  # a unique part of a label
    same = next(t for t in comparison.tests if t.a == "pvse (k=3)")
    assert same.rsum_diff == [0.0] * 4 and same.p_seeds == 1.0 and same.p_queries == [1.0] * 4
    assert "| pvse (k=3) | pvse (k=4) | 4 | +0.0 | 0/4 | 1 |" in comparison.to_markdown()


def test_cli_prints_paired_tests_and_rejects_an_ambiguous_row(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_json = runs / "table.json"
    assert (
        bench_main(["compare", str(runs / "toy"), "--against", "k=1", "--json", str(out_json)]) == 0
    )
    out = capsys.readouterr().out
    assert "**Paired tests**" in out and "| pvse (k=3) | pvse (k=1) | 4 |" in out
    tests = json.loads(out_json.read_text())["paired_tests"]
    assert {t["a"] for t in tests} == {"pvse (k=3)", "pvse (k=4)"}
    assert bench_main(["compare", str(runs / "toy"), "--against", "pvse"]) == 2
    assert capsys.readouterr().err.startswith("error: --against 'pvse' must name one row")
