"""The train-step benchmark runs end to end at a tiny size, at 1 and 2 threads, and its anchor
(the reference code's loss) and ours agree: equal with the hardest negative, ours B times the
reference's with summed negatives."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "train_step.py"


def _run(*extra: str) -> str:
    tiny = "--batch-size 4 --k 2 --dim 8 --repeats 1 --reference-repeats 1 --device cpu"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *tiny.split(), *extra],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def _losses(out: str) -> dict[tuple[str, str], float]:
    return {
        (line.split()[0], line.split()[1]): float(line.split()[5])
        for line in out.splitlines()
        if line.split()[1:2] in (["reference"], ["ours"])
    }


@pytest.mark.slow
def test_train_step_benchmark_small_at_one_and_two_threads() -> None:
    out = _run()
    losses = _losses(out)
    assert set(losses) == {(t, v) for t in ("1", "2") for v in ("reference", "ours")}
    assert losses[("1", "ours")] == pytest.approx(losses[("1", "reference")], rel=1e-5)
    assert out.count("losses agree: True") == 2 and "load average" in out
    assert "x wall" in out and "x CPU" in out and "matmul floor" in out


@pytest.mark.slow
@pytest.mark.parametrize("kernel", ["squared", "distance"])
def test_train_step_benchmark_summed_negatives_is_b_times_the_reference(kernel: str) -> None:
    out = _run("--summed", "--threads", "1", "--kernel", kernel)
    losses = _losses(out)
    assert losses[("1", "ours")] == pytest.approx(4 * losses[("1", "reference")], rel=1e-5)
    assert "losses agree: True (ours = 4 x reference)" in out
