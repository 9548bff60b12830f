"""One PVSE loss step (forward + backward of L_mil + λ1 L_div + λ2 L_mmd): time and peak memory.

Baseline, measured in the same run: the same step with the MMD computed from explicit
pairwise differences, `exp(-γ‖x[:, None] - y‖^p)` for the x-x, x-y and y-y sets — three
`[B·K, B·K, D]` tensors, as the reference PVSE code does. Candidate: `pvse.losses.mmd_loss`
(one `[2·B·K, 2·B·K]` kernel matrix from a matmul). Both variants compute the same loss
(checked) on the same seeded inputs.

Each variant runs in its own subprocess so their memory cannot mix. Peak memory is the
growth of the process's resident set during the first step (CPU: Linux VmHWM after
resetting it through /proc/self/clear_refs, minus VmRSS before the step, so it counts every
allocation, torch's or not) or `torch.cuda.max_memory_allocated` growth (CUDA).

    python benchmarks/train_step.py                       # paper size: B=128, K=5, D=1024
    python benchmarks/train_step.py --batch-size 32 --dim 256 --repeats 3   # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pvse.losses import Kernel, combine_losses, diversity_loss, mil_loss, mmd_loss

VARIANTS = ("pairwise", "matmul")  # baseline first


def pairwise_mmd(x: torch.Tensor, y: torch.Tensor, gamma: float, kernel: Kernel) -> torch.Tensor:
    """MMD² with kernels from explicit `[N, M, D]` difference tensors (the reference code's way)."""
    x, y = x.reshape(-1, x.size(-1)), y.reshape(-1, y.size(-1))

    def rbf(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        diff = a[:, None] - b
        dist = diff.norm(dim=2) if kernel == "distance" else diff.square().sum(dim=2)
        return torch.exp(-gamma * dist)

    return rbf(x, x).mean() - 2 * rbf(x, y).mean() + rbf(y, y).mean()


def make_inputs(args: argparse.Namespace, device: torch.device) -> list[torch.Tensor]:
    """Seeded leaf tensors: video/text embeddings `[B, K, D]` (unit norm) and residuals."""
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.batch_size, args.k, args.dim)
    tensors = [torch.randn(shape, generator=generator) for _ in range(4)]
    tensors[:2] = [F.normalize(t, dim=-1) for t in tensors[:2]]
    return [t.to(device).requires_grad_() for t in tensors]


def loss_step(variant: str, inputs: list[torch.Tensor], args: argparse.Namespace) -> float:
    video, text, video_residuals, text_residuals = inputs
    mmd_fn = pairwise_mmd if variant == "pairwise" else mmd_loss
    mil = mil_loss(video, text, args.margin)
    div = diversity_loss(video_residuals) + diversity_loss(text_residuals)
    mmd = mmd_fn(video, text, args.gamma, args.kernel)
    total = combine_losses(mil, {"div": (0.1, div), "mmd": (0.01, mmd)})
    total.backward()
    for tensor in inputs:
        tensor.grad = None
    return total.item()


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(args: argparse.Namespace) -> dict:
    """Run one variant: first step measured for memory, then `repeats` timed steps."""
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    inputs = make_inputs(args, device)
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS high-water mark
        before = _status_kib("VmRSS") * 1024
    loss = loss_step(args.variant, inputs, args)
    if cuda:
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = _status_kib("VmHWM") * 1024 - before
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        loss_step(args.variant, inputs, args)
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return {
        "variant": args.variant,
        "loss": loss,
        "peak_bytes": peak,
        "times_s": times,
        "median_s": statistics.median(times),
    }


def run_variant(variant: str, argv: list[str]) -> dict:
    command = [sys.executable, __file__, *argv, "--worker", variant]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: the {variant} run failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--dim", type=int, default=1024)
    parser.add_argument("--kernel", choices=("squared", "distance"), default="squared")
    parser.add_argument("--gamma", type=float, default=0.5)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed steps per variant (after the measured first)"
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch CPU threads (0: torch's default)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        args.variant = args.worker
        print(json.dumps(worker(args)))
        return
    n = args.batch_size * args.k
    print(
        f"PVSE loss step (MIL + diversity + MMD, forward+backward): B={args.batch_size} K={args.k} "
        f"D={args.dim} kernel={args.kernel} device={args.device} "
        f"threads={args.threads or torch.get_num_threads()} "
        f"torch={torch.__version__}"
    )
    print(
        f"baseline 'pairwise' materialises 3 x [{n}, {n}, {args.dim}] difference tensors "
        f"({3 * n * n * args.dim * 4 / 2**30:.2f} GiB in fp32)"
    )
    results = {variant: run_variant(variant, argv) for variant in VARIANTS}
    base, ours = results["pairwise"], results["matmul"]
    print(f"{'variant':<10}{'median step (s)':>17}{'peak memory (MiB)':>20}{'loss':>14}")
    for r in results.values():
        print(
            f"{r['variant']:<10}{r['median_s']:>17.4f}"
            f"{r['peak_bytes'] / 2**20:>20.1f}{r['loss']:>14.6f}"
        )
    agree = abs(base["loss"] - ours["loss"]) <= 1e-4 * max(1.0, abs(base["loss"]))
    print(
        f"speed-up: {base['median_s'] / ours['median_s']:.1f}x (target >= 100x); "
        f"peak memory: {base['peak_bytes'] / max(ours['peak_bytes'], 1):.1f}x less "
        "(target >= 20x); "
        f"losses agree: {agree}"
    )
    if not agree:
        raise SystemExit("error: the two variants computed different losses")


if __name__ == "__main__":
    main()
