"""Every script in `benchmarks/` still runs end to end at a tiny size and prints its ratio
against the baseline it names (the scripts are not imported by the package, so nothing else
would notice when a refactor breaks one). `train_step.py` has its own test."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
TINY = {
    "board_standings.py": "--submissions 4 --teams 2 --pairs 50",
    "decode.py": "--count 1 --frames 4 --width 32 --height 24 --repeats 1",
    "download.py": "--n 6 --baseline-n 3 --rounds 1 --latency-ms 1 --workers 2 --per-host 2",
    "eval.py": "--videos 40 --k 2 --dim 8 --repeats 1 --device cpu",
    "setaware.py": "--videos 40 --k 3 --dim 8 --repeats 1 --device cpu",
    "gpu.py": "--small",
    "leaderboard_server.py": "--submissions 4 --clients 2 --queries 60 --depth 20",
    "load_dataset.py": "--rows 40 --size 16",
    "near_duplicates.py": "--n 30 --identical 20 --sizes 100 400",
    "runfiles.py": "--datasets mrw --scale 0.01 --baseline-queries 5",
    "score.py": "--queries 60 --depth 20 --rounds 1",
    "xclip.py": "--clips 1 --gallery 8 --batch 1",
}
RATIO = re.compile(r'\d+(\.\d+)?x\b|"speedup": \d')  # "3.2x", or a JSON "speedup"


def test_every_benchmark_is_covered() -> None:
    scripts = {path.name for path in BENCHMARKS.glob("*.py")}
    assert scripts - {"train_step.py"} == set(TINY)


@pytest.mark.slow  # one interpreter each, seconds
@pytest.mark.parametrize(
    "script",
    sorted(TINY),
)
def test_benchmark_runs_small(script: str, tmp_path: Path) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *TINY[script].split()],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    assert RATIO.search(done.stdout), done.stdout[-2000:]
