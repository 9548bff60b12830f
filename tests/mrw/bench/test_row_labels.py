"""Table rows say what ran: VSE++'s loss summed over negatives is VSE0, not "vsepp"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from leaderboard.metrics import combine, ranks_to_metrics
from mrw.bench.compare import group_runs
from mrw.bench.record import RunRecord
from mrw.testing.run_records import write_metrics_json


def _record(root: Path, name: str, method_config: dict) -> RunRecord:
    run_dir = root / name
    run_dir.mkdir()
    config = {"method": "vsepp", "method_config": method_config, "options": {"run_id": name}}
    direction = ranks_to_metrics(np.arange(1, 11), gallery_size=10)
    (run_dir / "config.json").write_text(json.dumps(config))
    write_metrics_json(run_dir, config, combine(direction, direction).to_json())
    return RunRecord.from_disk(run_dir)


def test_vsepp_without_the_hardest_negative_is_labelled_vse0(tmp_path: Path) -> None:
    records = [
        _record(tmp_path, "hardest", {"max_violation": True}),
        _record(tmp_path, "summed", {"max_violation": False}),
        _record(tmp_path, "summed-256", {"max_violation": False, "embed_dim": 256}),
    ]
    labels = sorted(group.label for group in group_runs(records))
    assert labels == [
        "VSE0 (summed negatives)",
        "VSE0 (summed negatives; embed_dim=256)",
        "vsepp",
    ]
