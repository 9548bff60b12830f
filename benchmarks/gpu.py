"""GPU readiness in one run: every CUDA path of the harness, timed, in one table.

Measures, on the first CUDA device (each figure after a warm-up, with
`torch.cuda.synchronize()` before every clock read, and the stage's peak device memory from
`torch.cuda.max_memory_allocated`):

1. feature extraction: frames/s of the ResNet-152 frame encoder (224 px) under autocast
   (bf16 where supported, else fp16: `mrw.bench.evaluator.amp_dtype`), with ImageNet weights
   when they are in the torch hub cache, random ones otherwise (same arithmetic);
2. a PVSE training step (forward, backward, Adam) at the paper's sizes: B=128 pairs, K=5
   embeddings, D=1024, T=4 frames of 2,048-d features, 16-word sentences; in fp32 and under
   AMP, with the relative difference of the two losses on the same weights and batch;
3. evaluation of both directions at N=5,000 (K=5, D=1024) on the device, against its floor:
   one fp32 (N*K) x (N*K) x D matmul timed in the same run (TF32 off on both sides);
4. one DDP training step of 2 processes started by `torchrun` (NCCL when there are 2 GPUs,
   else gloo, both ranks on the one GPU), against one process computing the same two
   shards' mean loss: the updated weights must agree to fp32 rounding.

On a machine without CUDA it runs the same code at small sizes on the CPU and says that no
GPU was found (that is how `make test` runs it). Full size takes a few minutes on one GPU.

    python benchmarks/gpu.py            # CUDA if present, else small on the CPU
    python benchmarks/gpu.py --small    # small sizes even on a GPU (a quick check)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mrw.bench.backbones import FeatureError, FrameEncoder, build_backbone
from mrw.bench.evaluator import amp_dtype, evaluate_scores, similarity_matrix
from mrw.bench.trainer import _LossModule
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.registry import create_method

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval import synthetic_embeddings  # noqa: E402 - the evaluation benchmark's embeddings


@dataclass(frozen=True)
class Sizes:
    backbone: str
    image: int
    frames_per_batch: int
    batch: int  # PVSE pairs per step
    k: int
    dim: int
    frames: int  # T: frame features per video
    feature_dim: int
    words: int
    vocab: int
    eval_n: int
    repeats: int


FULL = Sizes("resnet152", 224, 128, 128, 5, 1024, 4, 2048, 16, 10000, 5000, 10)
SMALL = Sizes("resnet18", 64, 8, 16, 2, 64, 4, 32, 8, 100, 200, 2)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)


STAGE_PEAKS_MIB: list[float] = []  # every stage's peak: the run's peak is their maximum


def peak_mib(device: torch.device) -> float:
    """Peak device memory since `reset_peak` (CUDA), or the process's peak RSS (CPU)."""
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    STAGE_PEAKS_MIB.append(peak)
    return peak


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of `fn()` over `repeats` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    dtype = amp_dtype(device)
    if not enabled or dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def feature_extraction(sizes: Sizes, device: torch.device) -> list[tuple[str, str, str]]:
    os.environ.setdefault("MRW_OFFLINE", "1")  # never wait on a download: random weights then
    try:
        cnn, weights = build_backbone(sizes.backbone, "DEFAULT")
    except FeatureError:
        cnn, weights = build_backbone(sizes.backbone, "none")
    encoder = FrameEncoder(cnn, sizes.image).to(device).eval()
    frames = torch.randint(0, 256, (sizes.frames_per_batch, 3, 256, 320), dtype=torch.uint8)
    frames = frames.to(device)
    reset_peak(device)

    @torch.inference_mode()
    def run() -> None:
        with autocast(device):
            encoder(frames)

    seconds = timed(run, device, sizes.repeats)
    dtype = amp_dtype(device) or torch.float32
    return [
        (
            f"feature extraction ({sizes.backbone} {sizes.image} px, weights {weights}, "
            f"{str(dtype).removeprefix('torch.')})",
            f"{sizes.frames_per_batch / seconds:,.0f} frames/s",
            f"batch {sizes.frames_per_batch}; peak {peak_mib(device):,.0f} MiB",
        )
    ]


def pvse_and_batch(sizes: Sizes, device: torch.device, seed: int = 0) -> tuple[Method, Batch]:
    torch.manual_seed(seed)
    context = MethodContext(sizes.feature_dim, sizes.vocab, num_train_pairs=10 * sizes.batch)
    method = create_method("pvse", context, {"embed_dim": sizes.dim, "k": sizes.k}).to(device)
    gen = torch.Generator().manual_seed(seed + 1)
    batch = Batch(
        torch.randn(sizes.batch, sizes.frames, sizes.feature_dim, generator=gen),
        torch.full((sizes.batch,), sizes.frames),
        torch.randint(1, sizes.vocab, (sizes.batch, sizes.words), generator=gen),
        torch.randint(3, sizes.words + 1, (sizes.batch,), generator=gen),
        torch.arange(sizes.batch),
    )
    return method, batch.to(device)


def train_step(sizes: Sizes, device: torch.device) -> list[tuple[str, str, str]]:
    method, batch = pvse_and_batch(sizes, device)
    method.train()
    state = {name: value.clone() for name, value in method.state_dict().items()}
    modes = [False] + ([True] if amp_dtype(device) is not None else [])
    seconds, losses, memory = {}, {}, {}
    for amp in modes:
        method.load_state_dict(state)
        optimizer = torch.optim.Adam(method.parameters(), lr=2e-4, amsgrad=True)
        scaler = torch.amp.GradScaler("cuda", enabled=amp and amp_dtype(device) == torch.float16)
        with torch.no_grad(), autocast(device, amp):  # same weights, same batch: the loss
            losses[amp] = float(method.loss(batch)["total"].float())

        def step(optimizer=optimizer, scaler=scaler, amp=amp) -> None:
            with autocast(device, amp):
                total = method.loss(batch)["total"]
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(total).backward()
            scaler.step(optimizer)
            scaler.update()

        reset_peak(device)
        seconds[amp] = timed(step, device, sizes.repeats)
        memory[amp] = peak_mib(device)
    shape = f"B={sizes.batch}, K={sizes.k}, D={sizes.dim}, T={sizes.frames}"
    rows = [
        (f"PVSE train step, fp32 ({shape})", f"{seconds[False] * 1e3:,.1f} ms",
         f"peak {memory[False]:,.0f} MiB"),
    ]  # fmt: skip
    if True in seconds:
        name = str(amp_dtype(device)).removeprefix("torch.")
        relative = abs(losses[True] - losses[False]) / max(abs(losses[False]), 1e-12)
        rows.append(
            (f"PVSE train step, {name} AMP ({shape})", f"{seconds[True] * 1e3:,.1f} ms",
             f"{seconds[False] / seconds[True]:.2f}x fp32's speed; loss differs from fp32's by "
             f"{relative:.1e} (relative); peak {memory[True]:,.0f} MiB"),
        )  # fmt: skip
    return rows


def evaluation(sizes: Sizes, device: torch.device) -> list[tuple[str, str, str]]:
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 on both sides
    video, text = synthetic_embeddings(sizes.eval_n, sizes.k, sizes.dim, seed=0)
    video, text = video.to(device), text.to(device)
    ids_v = [f"v{i}" for i in range(sizes.eval_n)]
    ids_t = [f"s{i}" for i in range(sizes.eval_n)]
    pair_video = torch.arange(sizes.eval_n)
    rows = sizes.eval_n * sizes.k
    a, b = video.reshape(rows, sizes.dim), text.reshape(rows, sizes.dim)
    product = torch.empty(rows, rows, device=device)
    reset_peak(device)
    results = {}

    def harness() -> None:
        scores = similarity_matrix(lambda v, t: Method.similarity(None, v, t), video, text)
        results["metrics"] = evaluate_scores(scores, ids_v, ids_t, pair_video).metrics

    harness_s = timed(harness, device, max(2, sizes.repeats // 3))
    memory = peak_mib(device)
    matmul_s = timed(lambda: torch.matmul(a, b.T, out=product), device, sizes.repeats)
    flops = 2.0 * rows * rows * sizes.dim
    return [
        (
            f"evaluation N={sizes.eval_n}, K={sizes.k}, D={sizes.dim} (both directions)",
            f"{harness_s:.3f} s",
            f"{100 * matmul_s / harness_s:.0f}% of the floor ({harness_s / matmul_s:.2f}x "
            f"its time): fp32 matmul {matmul_s:.3f} s "
            f"({flops / matmul_s / 1e12:.1f} TFLOP/s); rsum {results['metrics'].rsum:.2f}; "
            f"peak {memory:,.0f} MiB",
        )
    ]


def _shard_step(method: Method, batch: Batch, rank: int, world: int) -> tuple[torch.Tensor, float]:
    """One SGD step on rank `rank`'s shard of `batch` (the harness's per-rank split,
    `PairData.train_batches`: every world-th pair); (loss, seconds of the step alone)."""
    shard = Batch(*(getattr(batch, f)[rank::world] for f in Batch.__dataclass_fields__))
    module: nn.Module = _LossModule(method)
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel

        ids = [batch.video.device.index] if batch.video.is_cuda else None
        module = DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)
    optimizer = torch.optim.SGD(method.parameters(), lr=0.1)
    sync(batch.video.device)
    start = time.perf_counter()
    torch.manual_seed(100 + rank)  # any randomness in the loss (dropout): the same per shard
    total = module(shard)["total"]
    total.backward()
    optimizer.step()
    sync(batch.video.device)
    return total.detach(), time.perf_counter() - start


def ddp_worker(sizes: Sizes, out: Path) -> None:
    """One rank of the torchrun check: join the group, step, save the weights (rank 0)."""
    import torch.distributed as dist

    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    cuda = torch.cuda.is_available()
    gpus = torch.cuda.device_count() if cuda else 0
    backend = "nccl" if gpus >= world and dist.is_nccl_available() else "gloo"
    device = torch.device("cuda", rank if gpus >= world else 0) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    dist.init_process_group(backend)
    method, batch = pvse_and_batch(sizes, device)
    method.train()
    loss, seconds = _shard_step(method, batch, rank, world)
    losses = [torch.zeros(1, device=device) for _ in range(world)]
    dist.all_gather(losses, loss.reshape(1).float())
    if rank == 0:
        weights = {k: v.cpu() for k, v in method.state_dict().items()}
        torch.save({"weights": weights, "losses": [float(x) for x in losses]}, out / "ddp.pt")
        (out / "ddp.json").write_text(json.dumps({"backend": backend, "seconds": seconds}))
    dist.destroy_process_group()


def ddp_check(sizes: Sizes, device: torch.device, argv: list[str]) -> list[tuple[str, str, str]]:
    with tempfile.TemporaryDirectory() as tmp, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                   "--master-addr", "127.0.0.1", "--master-port", str(port),
                   __file__, *argv, "--ddp-worker", tmp]  # fmt: skip
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
        done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            raise SystemExit(f"error: the torchrun step failed:\n{done.stderr[-3000:]}")
        saved = torch.load(Path(tmp) / "ddp.pt", weights_only=True)
        info = json.loads((Path(tmp) / "ddp.json").read_text())

    # One process: the same two shards, their mean loss, one SGD step.
    method, batch = pvse_and_batch(sizes, device)
    method.train()
    optimizer = torch.optim.SGD(method.parameters(), lr=0.1)
    shards = [
        Batch(*(getattr(batch, f)[r::2] for f in Batch.__dataclass_fields__)) for r in range(2)
    ]
    shard_losses = []
    for rank, shard in enumerate(shards):
        torch.manual_seed(100 + rank)  # as `_shard_step` on that rank
        shard_losses.append(method.loss(shard)["total"])
    (sum(shard_losses) / 2).backward()
    optimizer.step()
    ours = method.state_dict()
    worst = max(
        float((ours[k].cpu().float() - v.float()).abs().max()) for k, v in saved["weights"].items()
    )
    losses_equal = all(
        abs(float(a.detach()) - b) <= 1e-5 * max(1.0, abs(b))
        for a, b in zip(shard_losses, saved["losses"], strict=True)
    )
    agree = worst <= 1e-5 and losses_equal
    if not agree:
        raise SystemExit(f"error: torchrun (2 processes) and 1 process differ: {worst:.2e}")
    return [
        (
            f"DDP step, 2 processes ({info['backend']}) vs 1 process",
            f"{info['seconds'] * 1e3:,.1f} ms",
            f"same losses; weights agree, max |diff| {worst:.1e} (fp32 rounding)",
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="small sizes even on a GPU")
    parser.add_argument("--skip-ddp", action="store_true", help="leave out the torchrun check")
    parser.add_argument("--ddp-worker", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    cuda = torch.cuda.is_available()
    sizes = FULL if cuda and not args.small else SMALL
    if args.ddp_worker is not None:
        ddp_worker(sizes, args.ddp_worker)
        return
    device = torch.device("cuda" if cuda else "cpu")
    started = time.perf_counter()
    if cuda:
        print(
            f"device: {torch.cuda.get_device_name(device)}, {torch.cuda.device_count()} GPU(s), "
            f"torch {torch.__version__}, CUDA {torch.version.cuda}"
        )
    else:
        print(f"no GPU found: the same code at small sizes on the CPU (torch {torch.__version__})")
    rows = feature_extraction(sizes, device)
    rows += train_step(sizes, device)
    rows += evaluation(sizes, device)
    if not args.skip_ddp:
        rows += ddp_check(sizes, device, ["--small"] if args.small else [])
    memory = "peak device memory (max_memory_allocated)" if cuda else "peak RSS (no GPU)"
    rows.append((f"{memory}, whole run", f"{max(STAGE_PEAKS_MIB):,.0f} MiB", ""))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  {'value':>16}  detail")
    for name, value, detail in rows:
        print(f"{name:<{width}}  {value:>16}  {detail}")
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\ntotal {time.perf_counter() - started:.0f} s; load average {load}")


if __name__ == "__main__":
    main()
