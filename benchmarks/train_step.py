"""PVSE's whole loss, forward + backward (L_mil + λ1 L_div + λ2 L_mmd): ours against the
reference code's, time and peak memory, at 1 and 2 threads.

Anchor, measured in the same run: the loss as yalesong/pvse `loss.py` computes it, written
here independently from its description (docs/methods.md): the `[B·K, B·K]` head cosines
max-pooled over each K x K block; per direction the hinge costs with the positive masked,
the hardest per anchor (`--max_violation`) or all of them, then a mean; diversity from the
L2-normalised residuals' Gram matrices with the diagonal zeroed, one Frobenius norm per
instance in a Python list; the MMD from explicit pairwise differences, `exp(-γ‖a - b‖)` on
three `[B·K, B·K, D]` tensors. Candidate: `pvse.method.loss_terms`, the function the model
trains with, at the reference's conventions (`mmd_kernel="distance"`); the two totals are
checked to agree (ours is B times the reference's with `--summed`, its λ scaled by B).

Each (variant, thread count) runs in its own subprocess so memory cannot mix; ours runs
before and after the anchor and its times are pooled, so a change in machine load during the
anchor's long steps affects both. Times are wall-clock medians and, beside them, CPU seconds
(process time: all threads); peak memory is the growth of the resident set during the first
step (Linux VmHWM reset through /proc/self/clear_refs) or of `torch.cuda.max_memory_allocated`.
The matmul floor is the median time of the 7 `[B·K, D] x [D, B·K]`-sized products our step
needs (3 Gram matrices forward, 4 products backward), measured in our worker.

    python benchmarks/train_step.py                        # paper size: B=128, K=5, D=1024
    python benchmarks/train_step.py --batch-size 32 --dim 256 --threads 1   # a quick look
    python benchmarks/train_step.py --profile              # + torch.profiler table of ours
    OMP_WAIT_POLICY=PASSIVE python benchmarks/train_step.py   # both sides, on a shared machine

Every worker inherits the environment, so `OMP_WAIT_POLICY` (printed in the header) applies
to both sides: on an oversubscribed machine, OpenMP threads that spin at each barrier wait
for a descheduled sibling, which costs a loss made of many short parallel regions far more
than the anchor's few long ones.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from pvse.method import PVSEConfig, loss_terms

VARIANTS = ("reference", "ours")
DIV_WEIGHT, MMD_WEIGHT = 0.1, 0.01  # the paper's λ1, λ2 (the reference's README commands)


def reference_loss(
    video: torch.Tensor,
    text: torch.Tensor,
    video_res: torch.Tensor,
    text_res: torch.Tensor,
    args: argparse.Namespace,
) -> torch.Tensor:
    """The reference code's total loss (reduction 'mean'), computed the way it computes it."""
    b, k, d = video.shape
    cosines = video.reshape(b * k, d) @ text.reshape(b * k, d).T
    scores = F.max_pool2d(cosines[None], k)[0] if k > 1 else cosines
    positives = scores.diagonal()[:, None]
    positive_mask = torch.eye(b, dtype=torch.bool, device=scores.device)
    total = scores.new_zeros(())
    for anchors_positive, dim in ((positives, 1), (positives.T, 0)):  # video, then sentence
        costs = (args.margin + scores - anchors_positive).clamp(min=0).masked_fill(positive_mask, 0)
        if not args.summed:
            costs = costs.max(dim)[0]
        total = total + costs.mean()
    if k == 1:
        return total

    def diversity(residuals: torch.Tensor) -> torch.Tensor:
        rows = residuals / residuals.pow(2).sum(-1, keepdim=True).sqrt()
        diagonal = torch.eye(k, dtype=torch.bool, device=rows.device)
        gram = (rows @ rows.transpose(1, 2)).masked_fill(diagonal, 0)
        return (torch.stack([torch.norm(g) for g in gram]) / k**2).mean()

    def kernel(a: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        diff = a[:, None] - c
        dist = diff.norm(dim=2) if args.kernel == "distance" else diff.pow(2).sum(2)
        return torch.exp(-args.gamma * dist)

    x, y = video.reshape(b * k, d), text.reshape(b * k, d)
    mmd = (kernel(x, x) - 2 * kernel(x, y) + kernel(y, y)).mean()
    return total + DIV_WEIGHT * (diversity(video_res) + diversity(text_res)) + MMD_WEIGHT * mmd


def our_loss(inputs: list[torch.Tensor], args: argparse.Namespace) -> torch.Tensor:
    config = PVSEConfig(
        k=args.k,
        embed_dim=args.dim,
        margin=args.margin,
        max_violation=not args.summed,
        div_weight=DIV_WEIGHT,
        mmd_weight=MMD_WEIGHT,
        mmd_gamma=args.gamma,
        mmd_kernel=args.kernel,
        mmd_at_k1=False,  # the reference's K=1
    )
    return loss_terms(config, *inputs)["total"]


def make_inputs(args: argparse.Namespace, device: torch.device) -> list[torch.Tensor]:
    """Seeded leaf tensors `[B, K, D]`: unit-norm video/text embeddings, and residuals in
    (0, 1) as the model's sigmoid makes them."""
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.batch_size, args.k, args.dim)
    video, text, video_res, text_res = (torch.randn(shape, generator=generator) for _ in range(4))
    tensors = [F.normalize(video, dim=-1), F.normalize(text, dim=-1)]
    tensors += [torch.sigmoid(video_res), torch.sigmoid(text_res)]
    return [t.to(device).requires_grad_() for t in tensors]


def loss_step(variant: str, inputs: list[torch.Tensor], args: argparse.Namespace) -> float:
    total = reference_loss(*inputs, args) if variant == "reference" else our_loss(inputs, args)
    total.backward()
    for tensor in inputs:
        tensor.grad = None
    return total.item()


def matmul_floor(inputs: list[torch.Tensor], repeats: int, sync) -> float:
    """Median seconds of the 7 `[N, D] x [D, N]`-sized products of our step (N = B·K)."""
    x = inputs[0].detach().reshape(-1, inputs[0].size(-1))
    y = inputs[1].detach().reshape(-1, inputs[1].size(-1))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        xx, yy, xy = x @ x.T, y @ y.T, x @ y.T
        for left, right in ((xx, x), (yy, y), (xy, y), (xy.T, x)):  # the backward's 4
            torch.mm(left, right)
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def worker(args: argparse.Namespace) -> dict:
    """One variant at one thread count: a first step measured for memory, then timed steps."""
    torch.set_num_threads(args.worker_threads)
    device = torch.device(args.device)
    inputs = make_inputs(args, device)
    cuda = device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    if cuda:
        sync()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
    else:
        Path("/proc/self/clear_refs").write_text("5")  # reset the peak-RSS high-water mark
        before = _status_kib("VmRSS") * 1024
    loss = loss_step(args.worker, inputs, args)
    sync()
    if cuda:
        peak = torch.cuda.max_memory_allocated() - before
    else:
        peak = _status_kib("VmHWM") * 1024 - before
    repeats = args.reference_repeats if args.worker == "reference" else args.repeats
    wall, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        loss_step(args.worker, inputs, args)
        sync()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    result = {"loss": loss, "peak_bytes": peak, "wall_s": wall, "cpu_s": cpu}
    if args.worker == "ours":
        result["floor_s"] = matmul_floor(inputs, repeats, sync)
        if args.profile:
            from torch.profiler import profile

            with profile() as prof:
                loss_step("ours", inputs, args)
            result["profile"] = prof.key_averages().table(
                sort_by="self_cpu_time_total", row_limit=12
            )
    return result


def run_worker(variant: str, threads: int, argv: list[str]) -> dict:
    command = [sys.executable, __file__, *argv, "--worker", variant]
    command += ["--worker-threads", str(threads)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"error: the {variant} run failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=_positive, default=128)
    parser.add_argument("--k", type=_positive, default=5)
    parser.add_argument("--dim", type=_positive, default=1024)
    parser.add_argument(
        "--kernel",
        choices=("squared", "distance"),
        default="distance",
        help="MMD kernel of both sides (default: distance, the reference's)",
    )
    parser.add_argument("--gamma", type=float, default=0.5)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument(
        "--summed",
        action="store_true",
        help="sum over negatives (the reference without --max_violation; ours is B times it)",
    )
    parser.add_argument(
        "--repeats", type=_positive, default=10, help="timed steps of ours per worker (2 workers)"
    )
    parser.add_argument(
        "--reference-repeats",
        type=_positive,
        default=2,
        help="timed steps of the reference (each ~1 min at the paper's size on one core)",
    )
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument(
        "--threads",
        type=_positive,
        nargs="+",
        default=[1, 2],
        help="torch CPU thread counts to measure (torch.set_num_threads; default: 1 2)",
    )
    parser.add_argument("--profile", action="store_true", help="print ours' torch.profiler table")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--worker-threads", type=int, default=1, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args)))
        return
    n = args.batch_size * args.k
    print(
        f"PVSE loss, forward+backward: B={args.batch_size} K={args.k} D={args.dim} "
        f"kernel={args.kernel} {'summed negatives' if args.summed else 'hardest negative'} "
        f"device={args.device} torch={torch.__version__} cpus={os.cpu_count()} "
        f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}"
    )
    print(
        f"anchor 'reference' (yalesong/pvse loss.py's computation) materialises 3 x "
        f"[{n}, {n}, {args.dim}] difference tensors ({3 * n * n * args.dim * 4 / 2**30:.2f} GiB)"
    )
    factor = args.batch_size if args.summed else 1
    header = (
        f"{'threads':>7} {'variant':<10}{'wall s':>10}{'CPU s':>10}{'peak MiB':>10}"
        f"{'total loss':>14}"
    )
    print(header)
    agree_all = True
    for threads in args.threads:
        load_before = _load()
        first = run_worker("ours", threads, argv)
        reference = run_worker("reference", threads, argv)
        second = run_worker("ours", threads, argv)
        ours = {
            "loss": first["loss"],
            "peak_bytes": max(first["peak_bytes"], second["peak_bytes"]),
            "wall_s": first["wall_s"] + second["wall_s"],
            "cpu_s": first["cpu_s"] + second["cpu_s"],
        }
        rows = {"reference": reference, "ours": ours}
        medians = {
            name: (statistics.median(r["wall_s"]), statistics.median(r["cpu_s"]))
            for name, r in rows.items()
        }
        for name, r in rows.items():
            print(
                f"{threads:>7} {name:<10}{medians[name][0]:>10.4f}{medians[name][1]:>10.4f}"
                f"{r['peak_bytes'] / 2**20:>10.1f}{r['loss']:>14.6f}"
            )
        expected = factor * reference["loss"]
        agree = abs(ours["loss"] - expected) <= 1e-4 * max(1.0, abs(expected))
        agree_all &= agree
        floor = statistics.median([first["floor_s"], second["floor_s"]])
        print(
            f"{threads:>7} speed-up: {medians['reference'][0] / medians['ours'][0]:.1f}x wall, "
            f"{medians['reference'][1] / medians['ours'][1]:.1f}x CPU (target >= 100x); "
            f"peak memory {reference['peak_bytes'] / max(ours['peak_bytes'], 1):.1f}x less; "
            f"ours = {medians['ours'][0] / floor:.2f}x its matmul floor ({floor:.4f} s); "
            f"losses agree: {agree}"
            + (f" (ours = {factor} x reference)" if factor > 1 else "")
            + f"; load average (1, 5, 15 min) {load_before} before, {_load()} after"
        )
        if args.profile:
            print(first["profile"])
    if not agree_all:
        raise SystemExit("error: ours and the reference computed different losses")


if __name__ == "__main__":
    main()
