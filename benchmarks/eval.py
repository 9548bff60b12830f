"""Evaluation speed: the harness evaluator vs the original per-query loop, same run.

Full evaluation of both directions with all metrics, from K embeddings per instance, against
the loop of the original PVSE/VSE++ evaluation code (for each query: numpy `tensordot`
against the whole gallery, max over K x K, `argsort`, find the relevant item). Both produce
first-relevant ranks that go through the same metric function; the metrics must be identical.

Also reports how close the evaluation comes to its compute floor: one (Nv*K) x (Nt*K) x D
product (25,000 x 25,000 x 1,024 at the defaults), measured here as a plain fp32 matmul of
that shape in the same run (into a preallocated output). The evaluator scores the gallery
in cache-sized tiles, max-reducing each tile's K x K products while they are in cache; the
previous layout (chunks of videos against all texts, products through DRAM) is timed beside
it. Each thread count in `--threads` is timed in turn (`torch.set_num_threads`); rounds
alternate the functions, and the load average is printed with each.

    python benchmarks/eval.py                          # 5,000 x 5,000, K=5, D=1024
    python benchmarks/eval.py --videos 1000 --dim 256  # small, for a 2-core machine
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable

import numpy as np
import torch

from leaderboard.metrics import combine, ranks_to_metrics
from mrw.bench.evaluator import CHUNK_BYTES, evaluate_scores, similarity_matrix
from mrw.methods.base import Method


def synthetic_embeddings(nv: int, k: int, d: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-normalised video and text embeddings; sentence i is a noisy view of video i.

    The noise (0.4 sqrt(D) per coordinate) keeps retrieval far from perfect, so that ranks
    spread over the gallery as they do for a trained model.
    """
    gen = torch.Generator().manual_seed(seed)
    video = torch.randn(nv, k, d, generator=gen)
    noise = 0.4 * d**0.5
    text = video[:, torch.randperm(k, generator=gen)] + noise * torch.randn(nv, k, d, generator=gen)
    return torch.nn.functional.normalize(video, dim=-1), torch.nn.functional.normalize(text, dim=-1)


def per_query_loop(video: np.ndarray, text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The original evaluation: one tensordot + argsort per query (1-based first-relevant ranks)."""
    n = video.shape[0]
    v2t = np.zeros(n, dtype=np.int64)
    for i in range(n):
        scores = np.tensordot(video[i], text, axes=([1], [2])).max(axis=(0, 2))  # [K, N, K] -> [N]
        order = np.argsort(scores)[::-1]
        v2t[i] = np.where(order == i)[0][0] + 1
    t2v = np.zeros(n, dtype=np.int64)
    for j in range(n):
        scores = np.tensordot(text[j], video, axes=([1], [2])).max(axis=(0, 2))
        order = np.argsort(scores)[::-1]
        t2v[j] = np.where(order == j)[0][0] + 1
    return t2v, v2t


def previous_similarity_matrix(
    similarity: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    video_emb: torch.Tensor,
    text_emb: torch.Tensor,
    chunk_bytes: int = CHUNK_BYTES,
) -> torch.Tensor:
    """The previous layout, kept as a baseline: chunks of videos against every text, each
    chunk's products (up to `chunk_bytes`) written to memory and read back by the maximum,
    every matmul split across all of PyTorch's threads."""
    nv, k, _ = video_emb.shape
    nt, kt, _ = text_emb.shape
    rows = max(1, chunk_bytes // (4 * k * kt * max(nt, 1)))
    out = torch.empty(nv, nt, dtype=torch.float32, device=video_emb.device)
    for start in range(0, nv, rows):
        out[start : start + rows] = similarity(video_emb[start : start + rows], text_emb).float()
    return out


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return platform.processor() or "cpu"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def best_times(
    fns: dict[str, Callable[[], object]], device: torch.device, repeats: int
) -> tuple[dict[str, float], dict[str, object]]:
    """Best wall time of each function over `repeats` rounds, after one warm-up round.

    The functions alternate within each round, so load from other processes on a shared
    machine hits them alike and their ratio stays meaningful.
    """
    best = {name: float("inf") for name in fns}
    results = {name: fn() for name, fn in fns.items()}
    sync(device)
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            results[name] = fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--videos", type=int, default=5000, help="videos = sentences (default 5000)"
    )
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed rounds of evaluator and matmul (best kept)"
    )
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="CPU thread counts to time"
    )
    parser.add_argument("--skip-loop", action="store_true", help="skip the per-query baseline")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # measure true fp32 on both sides

    video, text = synthetic_embeddings(args.videos, args.k, args.dim, args.seed)
    ids_v = [f"v{i}" for i in range(args.videos)]
    ids_t = [f"s{i}" for i in range(args.videos)]
    pair_video = torch.arange(args.videos)
    video_d, text_d = video.to(device), text.to(device)

    def evaluator(layout: Callable[..., torch.Tensor]) -> Callable[[], object]:
        def run():
            with torch.inference_mode():
                scores = layout(lambda v, t: Method.similarity(None, v, t), video_d, text_d)
            return evaluate_scores(scores, ids_v, ids_t, pair_video).metrics

        return run

    rows = args.videos * args.k
    a = torch.randn(rows, args.dim, device=device)
    b = torch.randn(rows, args.dim, device=device)
    product = torch.empty(rows, rows, device=device)  # preallocated: time arithmetic, not faults
    flops = 2.0 * rows * rows * args.dim
    fns = {
        "harness": evaluator(similarity_matrix),
        "previous": evaluator(previous_similarity_matrix),
        "matmul": lambda: torch.matmul(a, b.T, out=product),
    }
    print(
        f"device: {device} ({_device_name(device)}), torch {torch.__version__}; "
        f"gallery: {args.videos} videos x {args.videos} sentences, K={args.k}, D={args.dim}"
    )
    print(f"floor: one fp32 matmul {rows}x{rows}x{args.dim} ({flops / 1e9:.0f} GFLOP)")
    print(f"{'threads':>7} {'matmul s':>9} {'GFLOP/s':>8} {'harness s':>10} {'% of floor':>11} "
          f"{'previous s':>11} {'% of floor':>11}  load average")  # fmt: skip
    fast_metrics = None
    fast_s = None
    for threads in args.threads:
        torch.set_num_threads(threads)
        times, results = best_times(fns, device, args.repeats)
        assert results["harness"] == results["previous"], "tiling changed the metrics"
        fast_metrics, fast_s = results["harness"], times["harness"]
        matmul_s = times["matmul"]
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(
            f"{threads:7d} {matmul_s:9.3f} {flops / matmul_s / 1e9:8.1f} {times['harness']:10.3f} "
            f"{100 * matmul_s / times['harness']:10.0f}% {times['previous']:11.3f} "
            f"{100 * matmul_s / times['previous']:10.0f}%  {load}"
        )
    print(
        f"metrics: rsum {fast_metrics.rsum:.2f}, t2v R@1 {fast_metrics.t2v.recall[1]:.2f}, "
        f"v2t MedR {fast_metrics.v2t.medr} (harness = previous layout)"
    )
    if args.skip_loop:
        return
    start = time.perf_counter()
    t2v, v2t = per_query_loop(video.numpy(), text.numpy())
    loop_s = time.perf_counter() - start
    loop_metrics = combine(ranks_to_metrics(t2v, args.videos), ranks_to_metrics(v2t, args.videos))
    assert fast_metrics == loop_metrics, (fast_metrics, loop_metrics)
    print(
        f"per-query loop (numpy tensordot + argsort, baseline): {loop_s:.3f} s; harness at "
        f"{args.threads[-1]} thread(s) {loop_s / fast_s:.1f}x faster, metrics identical; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()
