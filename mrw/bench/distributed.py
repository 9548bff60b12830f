"""`torchrun` awareness: the harness runs as one process, or as one rank of many.

Nothing here starts processes; `torchrun --nproc-per-node N -m mrw.bench.cli run ...` does,
and sets the environment variables read below.
"""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any, TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


def launched_by_torchrun() -> bool:
    """Whether `WORLD_SIZE` (set by torchrun) is above 1."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init(device: torch.device) -> None:
    """Join the process group torchrun describes (NCCL on CUDA, gloo on CPU); no-op alone."""
    if launched_by_torchrun() and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group(backend, timeout=timedelta(minutes=30))


def rank() -> int:
    """This process's rank in the process group; 0 when there is none."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    """Number of ranks in the process group; 1 when there is none."""
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Whether this is rank 0, the one that writes files and shows progress."""
    return rank() == 0


def barrier() -> None:
    """Wait for every rank; no-op without a process group."""
    if dist.is_initialized():
        dist.barrier()


def local_device(device: torch.device) -> torch.device:
    """On CUDA each rank takes the GPU of its local rank."""
    if device.type == "cuda" and launched_by_torchrun():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def broadcast(obj: T) -> T:
    """Rank 0's `obj` on every rank (e.g. a run folder named after rank 0's clock)."""
    if not dist.is_initialized():
        return obj
    holder: list[Any] = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]
