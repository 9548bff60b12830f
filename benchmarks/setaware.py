"""Set-aware evaluation time against the evaluator alone, same run: goal at most 10 % extra.

Baseline: the harness evaluator of a multi-embedding method (`similarity_matrix` with the
default K x K max, then `evaluate_scores`: both directions' exact ranks and metrics). Set-aware:
what the runner does instead (`mrw.bench.setaware`): one chunked pass over the K x K cosines
that yields the same max-reduced matrix plus the per-head ranks, then `evaluate_scores`, the
per-query table (every relevant rank, winning pairs and margins, top items) and the summary.
The two must give identical metrics. The load average is printed, since the machine may be
shared.

    python benchmarks/setaware.py                           # 5,000 x 5,000, K=5, D=1024
    python benchmarks/setaware.py --videos 1000 --dim 256   # small, for a 2-core machine
"""

from __future__ import annotations

import argparse
import os

import torch
from eval import _device_name, best_times, synthetic_embeddings

from mrw.bench.evaluator import evaluate_scores, similarity_matrix
from mrw.bench.setaware import per_query_table, set_aware_pass, summarise
from mrw.methods.base import Method


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=5000, help="videos = sentences")
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2, help="timed rounds (best kept)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # true fp32 on both sides

    video, text = (x.to(device) for x in synthetic_embeddings(args.videos, args.k, args.dim, 0))
    ids_v = [f"v{i}" for i in range(args.videos)]
    ids_t = [f"s{i}" for i in range(args.videos)]
    pair_video = torch.arange(args.videos, device=device)

    def evaluator():
        scores = similarity_matrix(lambda v, t: Method.similarity(None, v, t), video, text)
        return evaluate_scores(scores, ids_v, ids_t, pair_video).metrics

    def set_aware():
        passed = set_aware_pass(video, text, pair_video)
        evaluation = evaluate_scores(passed.scores, ids_v, ids_t, pair_video)
        first = (evaluation.t2v_ranks, evaluation.v2t_ranks)
        tables = per_query_table(
            passed.scores, video, text, pair_video, ids_v, ids_t, passed, None, first
        )
        summarise(tables, video, text, ())
        return evaluation.metrics

    load = os.getloadavg()
    times, results = best_times(
        {"evaluator": evaluator, "set-aware": set_aware}, device, args.repeats
    )
    assert results["evaluator"] == results["set-aware"], results
    base, extra = times["evaluator"], times["set-aware"]
    print(
        f"device: {device} ({_device_name(device)}), torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads"
    )
    print(f"gallery: {args.videos} videos x {args.videos} sentences, K={args.k}, D={args.dim}")
    print(f"load average before: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
          f"after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    print(f"metrics identical: rsum {results['evaluator'].rsum:.2f}")
    print(f"evaluator (baseline):               {base:9.3f} s")
    print(
        f"set-aware evaluation (same metrics): {extra:9.3f} s   {extra / base:.3f}x "
        f"({100 * (extra / base - 1):+.1f} % extra; goal <= +10 %)"
    )


if __name__ == "__main__":
    main()
