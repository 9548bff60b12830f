"""PVSE through the harness on synthetic cached features: it learns, and its ablations run."""

from __future__ import annotations

import json

import pytest

from mrw.bench.runner import run_method
from mrw.methods.registry import list_methods
from mrw.testing.bench_synthetic import SIZES, synthetic_options

pytestmark = pytest.mark.skipif(
    "pvse" not in list_methods(), reason="the pvse package is not installed"
)
SMALL = {"embed_dim": 32, "hidden_dim": 32}
CHANCE_RSUM = 2 * 100 * (1 + 5 + 10) / SIZES["test"]


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path


@pytest.mark.slow
def test_pvse_learns_on_cpu(env) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=4, lr=2e-3)
    result = run_method("pvse", {**SMALL, "k": 2}, options)
    log = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    val = [entry["validation_rsum"] for entry in log if "epoch" in entry]
    assert max(val[1:]) > val[0]
    assert result.metrics.rsum > 3 * CHANCE_RSUM
    assert {"mil", "div", "mmd", "total"} <= set(log[0]["loss"])


@pytest.mark.slow
@pytest.mark.parametrize("k", [0, 1, 3])
def test_pvse_k_variants_run(env, k: int) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1, lr=2e-3, run_id=f"k{k}")
    result = run_method("pvse", {**SMALL, "k": k}, options)
    record = json.loads((result.run_dir / "metrics.json").read_text())
    assert record["config"]["method_config"]["k"] == k
    assert record["metrics"]["t2v"]["queries"] == SIZES["test"]
