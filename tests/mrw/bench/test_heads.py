"""`mrw-bench heads`: a trained run's attention and embedding spread, from its record."""

from __future__ import annotations

import json

import pytest
import torch

from mrw.bench.cli import main
from mrw.bench.heads import head_report
from mrw.bench.runner import run_method
from mrw.testing.bench_synthetic import synthetic_options

SMALL = {"embed_dim": 16, "hidden_dim": 16, "max_violation": False}


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    torch.set_num_threads(1)
    return tmp_path


def test_head_report_of_a_trained_run(env, capsys) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1)
    k3 = run_method("pvse", {"k": 3, **SMALL}, options).run_dir
    k0 = run_method("pvse", {"k": 0, **SMALL}, options).run_dir
    report = head_report(k3)
    record = json.loads((k3 / "metrics.json").read_text())
    assert report["k"] == 3 and set(record["init_check"]) >= {"video", "text"}
    for side in ("video", "text"):
        assert 0 < report[side]["entropy_ratio"] <= 1 and 0 <= report[side]["head_tv"] <= 1
        assert -1 <= report[side]["embedding_cosine"] <= 1
    assert main(["heads", str(k3)]) == 0
    assert json.loads(capsys.readouterr().out)["run"] == str(k3)
    assert main(["heads", str(k0)]) == 2  # no PIE-Net to inspect: a one-line error
    assert capsys.readouterr().err.startswith("error: ") and record["init_check"]["warning"] is None
