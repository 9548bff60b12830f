"""The train-step benchmark runs end to end at a tiny size and checks its two variants agree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_step.py"


@pytest.mark.slow
def test_train_step_benchmark_small() -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--batch-size",
            "4",
            "--k",
            "2",
            "--dim",
            "8",
            "--repeats",
            "1",
            "--threads",
            "1",
            "--device",
            "cpu",
            "--kernel",
            "distance",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "losses agree: True" in done.stdout
    rows = {
        line.split()[0]: line.split()
        for line in done.stdout.splitlines()
        if line.startswith(("pairwise ", "matmul "))
    }
    assert set(rows) == {"pairwise", "matmul"}
    assert float(rows["pairwise"][3]) == pytest.approx(float(rows["matmul"][3]), rel=1e-5)
