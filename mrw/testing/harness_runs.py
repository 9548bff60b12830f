"""Finished harness run folders on the loopback leaderboard's truth (`make_truth`), for tests of
what reads both a run and a board: `compare`, `submit` and `baseline add`.

    run = harness_run(tmp / "runs", truth / "test", k=3, seed=0, noise=0.3)

The folder holds what `mrw-bench run` writes and the readers use: `config.json`,
`metrics.json` (the scorer's metrics of the run files), `t2v.run.gz`, `v2t.run.gz`,
`query_ranks.json` (ranks counted from the score matrix, independently of the scorer) and a
`checkpoint.pt` of a few bytes.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from leaderboard.runfile import write_run
from leaderboard.score import score_submission
from mrw.testing.leaderboard_server import CAPTIONS, N_VIDEOS
from mrw.testing.run_records import write_metrics_json

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def harness_run(
    root: Path,
    split_dir: Path,
    k: int,
    seed: int,
    noise: float,
    training_data: str = "trained on toy train; frame features: synthetic",
) -> Path:
    """A finished run of `pvse` (method config `k`) at `root/toy/pvse/k{k}-s{seed}-n{noise}`.

    Args:
        root: the runs folder.
        split_dir: a split folder of `make_truth` (its ids are `<split>-s{v}_{c}`, `<split>-v{v}`).
        k: the method setting that tells runs apart in `compare`.
        seed: the run's seed; also seeds the score noise.
        noise: standard deviation of the noise added to the ideal score matrix.
        training_data: the record's declaration.

    Returns:
        The run folder.
    """
    split = split_dir.name
    sentences = [f"{split}-s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
    videos = [f"{split}-v{v}" for v in range(N_VIDEOS)]
    video_of = np.repeat(np.arange(N_VIDEOS), CAPTIONS)
    rng = np.random.default_rng(1000 * k + seed)
    scores = np.eye(N_VIDEOS)[video_of] + noise * rng.standard_normal((len(sentences), N_VIDEOS))
    run_dir = root / "toy" / "pvse" / f"k{k}-s{seed}-n{noise}"
    run_dir.mkdir(parents=True)
    write_run(run_dir / "t2v.run.gz", sentences, videos, scores, f"pvse-k{k}")
    write_run(run_dir / "v2t.run.gz", videos, sentences, scores.T, f"pvse-k{k}")
    true_score = scores[np.arange(len(sentences)), video_of]
    t2v_ranks = 1 + (scores > true_score[:, None]).sum(axis=1)
    mine = video_of[None, :] == np.arange(N_VIDEOS)[:, None]  # [video, sentence]
    best_own = np.where(mine, scores.T, -np.inf).max(axis=1)
    v2t_ranks = 1 + (best_own[:, None] < scores.T).sum(axis=1)
    ranks = {
        "t2v": {"queries": sentences, "ranks": t2v_ranks.tolist(),
                "videos": [videos[v] for v in video_of]},
        "v2t": {"queries": videos, "ranks": v2t_ranks.tolist()},
    }  # fmt: skip
    (run_dir / "query_ranks.json").write_text(json.dumps(ranks))
    config = {
        "method": "pvse",
        "method_config": {"k": k},
        "options": {"dataset": "toy", "seed": seed, "run_id": run_dir.name},
    }
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "checkpoint.pt").write_bytes(f"weights of {run_dir.name}".encode())
    metrics = score_submission(split_dir, run_dir / "t2v.run.gz", run_dir / "v2t.run.gz")
    write_metrics_json(
        run_dir,
        config,
        metrics.to_json(),
        seed=seed,
        git_commit=COMMIT,
        training_data=training_data,
        format_version=3,
    )
    return run_dir
