"""`--threads` / `MRW_THREADS`: one option for every console script, honoured by scoring
(two directions at once), training and evaluation (PyTorch's thread pool)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from leaderboard.cli import main as leaderboard_main
from leaderboard.qrels import write_qrels
from leaderboard.score import score_submission
from mrw.core.cliutil import THREADS_ENV, cpu_threads


def _pair(root: Path, n: int = 40) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    queries, docs = [f"q{i}" for i in range(n)], [f"d{i}" for i in range(n)]
    write_qrels(root / "truth" / "t2v.qrels", zip(queries, docs, strict=True))
    write_qrels(root / "truth" / "v2t.qrels", zip(docs, queries, strict=True))
    paths = []
    for name, (qs, ds) in (("t2v", (queries, docs)), ("v2t", (docs, queries))):
        scores = rng.standard_normal((n, n)) + 2 * np.eye(n)
        lines = [
            f"{q} Q0 {d} 0 {float(scores[i, j])!r} t\n"
            for i, q in enumerate(qs)
            for j, d in enumerate(ds)
        ]
        path = root / f"{name}.run"
        path.write_text("".join(lines))
        paths.append(path)
    return root / "truth", paths[0], paths[1]


def test_scoring_is_the_same_at_one_and_two_threads(tmp_path: Path) -> None:
    truth, t2v, v2t = _pair(tmp_path)
    one = score_submission(truth, t2v, v2t, threads=1)
    two = score_submission(truth, t2v, v2t, threads=2)
    assert one == two and one.t2v.queries == 40
    v2t.write_text(v2t.read_text().replace("d3 Q0", "nope Q0", 1))
    t2v.write_text(t2v.read_text().replace("q5 Q0", "nope Q0", 1))
    for threads in (1, 2):  # both files bad: the t2v file's error, whatever the threads
        with pytest.raises(Exception, match="t2v.run:.*unknown query id 'nope'"):
            score_submission(truth, t2v, v2t, threads=threads)


@pytest.fixture
def torch_threads_kept():
    """The option resizes a loaded PyTorch's pool: give the other tests theirs back."""
    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    yield
    if torch is not None:
        torch.set_num_threads(before)


@pytest.mark.usefixtures("torch_threads_kept")
def test_threads_option_and_environment(tmp_path: Path, capsys, monkeypatch) -> None:
    truth, t2v, v2t = _pair(tmp_path)
    monkeypatch.setenv(THREADS_ENV, "")
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        monkeypatch.setenv(name, os.environ.get(name, ""))  # restored after the test
    argv = ["score", "--truth", str(truth), str(t2v), str(v2t), "--json"]
    assert leaderboard_main(["--threads", "2", *argv]) == 0
    two = json.loads(capsys.readouterr().out)
    assert cpu_threads() == 2 and os.environ["OMP_NUM_THREADS"] == "2"
    monkeypatch.setenv(THREADS_ENV, "1")
    assert leaderboard_main(argv) == 0
    assert json.loads(capsys.readouterr().out) == two and cpu_threads() == 1
    monkeypatch.setenv(THREADS_ENV, "many")
    assert leaderboard_main(argv) == 2
    assert capsys.readouterr().err.strip() == (
        "error: MRW_THREADS: expected a whole number, got 'many'"
    )
    assert leaderboard_main(["--threads", "0", *argv]) == 2
    assert "--threads" in capsys.readouterr().err


def test_threads_reach_pytorch_in_a_fresh_process() -> None:
    """Training and evaluation run in PyTorch's thread pool: `--threads` sizes it whether
    torch is loaded before the option is applied or after."""
    code = (
        "import sys, torch\n"
        "from mrw.core.cliutil import set_cpu_threads\n"
        "set_cpu_threads(1); print(torch.get_num_threads())\n"
    )
    late = (
        "from mrw.core.cliutil import set_cpu_threads\n"
        "set_cpu_threads(1)\n"
        "import torch; print(torch.get_num_threads())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", THREADS_ENV)}
    for source in (code, late):
        done = subprocess.run(
            [sys.executable, "-c", source], capture_output=True, text=True, env=env, check=True
        )
        assert done.stdout.strip() == "1"


_NUMPY_PROBE = """
import builtins, json, os, sys
seen = {}
original_import = builtins.__import__

def watching_import(name, *args, **kwargs):
    if name.split(".")[0] == "numpy" and "numpy" not in sys.modules and not seen:
        seen["OPENBLAS_NUM_THREADS"] = os.environ.get("OPENBLAS_NUM_THREADS")
    return original_import(name, *args, **kwargs)

builtins.__import__ = watching_import
from leaderboard.cli import main
code = main(json.loads(sys.argv[1]))
print(json.dumps({"code": code, **seen}))
"""


def test_threads_reach_openblas_before_numpy_loads(tmp_path: Path) -> None:
    """OpenBLAS sizes its thread pool once, when numpy loads: `mrw-leaderboard --threads 1
    score` must not load numpy before the option is applied (an idle BLAS thread spun on the
    second core while scoring)."""
    truth, t2v, v2t = _pair(tmp_path)
    argv = ["--threads", "1", "score", "--truth", str(truth), str(t2v), str(v2t), "--json"]
    env = {k: v for k, v in os.environ.items() if "THREADS" not in k}
    done = subprocess.run(
        [sys.executable, "-c", _NUMPY_PROBE, json.dumps(argv)],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    out = json.loads(done.stdout.splitlines()[-1])
    assert out == {"code": 0, "OPENBLAS_NUM_THREADS": "1"}, done.stderr
