"""Run records written the way the harness writes them, for tests of what reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_metrics_json(
    run_dir: Path,
    config: dict[str, Any],
    metrics: dict[str, Any],
    *,
    dataset: str = "toy",
    seed: int = 0,
    wall_time_s: float = 1.0,
    **extra: Any,
) -> None:
    """`run_dir/metrics.json` of a finished run of `config["method"]` on `dataset`'s test split
    (`extra`: further fields, e.g. `folds`); `config.json` is the caller's to write."""
    record = {
        "method": config["method"],
        "dataset": dataset,
        "split": "test",
        "metrics": metrics,
        "config": config,
        "seed": seed,
        "device": "cpu",
        "wall_time_s": wall_time_s,
        "versions": {},
        "git_commit": None,
        **extra,
    }
    (run_dir / "metrics.json").write_text(json.dumps(record))
