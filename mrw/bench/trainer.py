"""The one trainer every method shares (PVSE's recipe): AMSGrad, lr halved when validation
rsum stops improving, gradient-norm clipping, per-epoch checkpoints that resume exactly.

Model selection uses the validation split only; the best-validation weights are what the
harness evaluates on test. Under `torchrun` the method is wrapped in DDP and each rank
trains on its share of every global batch (ranking losses then see the rank's share of
in-batch negatives, as in any data-parallel VSE training).
"""

from __future__ import annotations

import copy
import math
import pickle
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from mrw.bench import distributed as dist_util
from mrw.bench.data import PairData
from mrw.bench.evaluator import amp_dtype, autocast, evaluate
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.methods.base import Batch, Method


class TrainingError(MRWError):
    """Training cannot go on: the loss diverged, or a checkpoint does not fit this run."""


@dataclass
class TrainConfig:
    """Optimisation settings (PVSE's defaults)."""

    epochs: int = 30
    batch_size: int = 128
    lr: float = 2e-4
    lr_factor: float = 0.5  # multiply the lr by this ...
    lr_patience: int = 1  # ... after this many epochs without a better validation rsum
    lr_mode: str = "max"  # "max": better = higher rsum; "min" reproduces the reference's bug
    grad_clip: float = 2.0
    seed: int = 0
    eval_batch_size: int = 256
    # Early stopping: end training after this many epochs without a better validation rsum
    # (None: train every epoch). The best-validation weights are kept either way.
    patience: int | None = None


@dataclass
class TrainResult:
    """Outcome of `Trainer.fit`: the epoch (1-based) with the best validation rsum, that rsum,
    and one logged record per epoch (fewer than `TrainConfig.epochs` when early stopping
    ended training)."""

    best_epoch: int
    best_rsum: float
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        """Epochs trained (the last logged epoch)."""
        return self.history[-1]["epoch"] if self.history else 0


def seed_everything(seed: int) -> None:
    """Seed Python's `random`, NumPy (`seed mod 2**32`) and torch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class _LossModule(nn.Module):
    """Routes `Method.loss` through `forward`, which is what DDP hooks gradient sync onto."""

    def __init__(self, method: Method) -> None:
        super().__init__()
        self.method = method

    def forward(self, batch: Batch) -> dict[str, Tensor]:
        return self.method.loss(batch)


class Trainer:
    """Trains one method on one split, validating every epoch; `fit` resumes from `checkpoint`."""

    def __init__(
        self,
        method: Method,
        config: TrainConfig,
        device: torch.device,
        checkpoint: Path,
        log: Callable[[dict[str, Any]], None] = lambda record: None,
        progress: bool = True,
    ) -> None:
        self.method = method.to(device)
        self.config = config
        self.device = device
        self.checkpoint = checkpoint
        self.log = log
        self.progress = progress and dist_util.is_main()
        params = [p for p in self.method.parameters() if p.requires_grad]
        if not params:
            raise TrainingError(f"method {method.name!r} has no trainable parameters")
        self.params = params
        self.optimizer = torch.optim.Adam(params, lr=config.lr, amsgrad=True)
        self.scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer,
            mode=config.lr_mode,
            factor=config.lr_factor,
            patience=config.lr_patience,
        )
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype(device) == torch.float16)
        loss_module: nn.Module = _LossModule(self.method)
        if dist_util.world_size() > 1:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            loss_module = DistributedDataParallel(
                loss_module, device_ids=ids, find_unused_parameters=True
            )
        self.loss_module = loss_module
        self.epoch = 0  # epochs completed
        self.best_rsum = -math.inf
        self.best_epoch = 0
        self.best_state: dict[str, Tensor] | None = None
        self.history: list[dict[str, Any]] = []

    # -- checkpoints -------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resumed run needs: weights (current and best), optimizer, scheduler,
        AMP scaler and RNG states, epochs done and the per-epoch history."""
        return {
            "epoch": self.epoch,
            "config": asdict(self.config),
            "model": self.method.state_dict(),
            "best_model": self.best_state,
            "best_rsum": self.best_rsum,
            "best_epoch": self.best_epoch,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "history": self.history,
        }

    def save(self) -> None:
        """Write `state_dict()` to `checkpoint` atomically (rank 0 only)."""
        if dist_util.is_main():
            with atomic_write(self.checkpoint) as handle:
                torch.save(self.state_dict(), handle)

    def load(self) -> None:
        """Restore the state saved by `save` from `checkpoint`.

        Raises:
            TrainingError: If the file cannot be read or its weights do not fit the method.
        """
        try:
            state = torch.load(self.checkpoint, map_location="cpu", weights_only=True)
            self.method.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            self.scaler.load_state_dict(state["scaler"])
            torch.set_rng_state(state["rng"])
            if state["cuda_rng"] and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["cuda_rng"])
            self.epoch, self.history = state["epoch"], state["history"]
            self.best_rsum, self.best_epoch, self.best_state = (
                state["best_rsum"],
                state["best_epoch"],
                state["best_model"],
            )
        except (
            OSError,
            RuntimeError,
            KeyError,
            EOFError,
            TypeError,
            ValueError,
            pickle.UnpicklingError,  # not a checkpoint, or objects beyond weights (never run)
        ) as exc:
            reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
            raise TrainingError(f"cannot resume from {self.checkpoint}: {reason}") from None

    # -- training ----------------------------------------------------------------------
    def _step(self, batch: Batch) -> dict[str, float]:
        with autocast(self.device):
            terms = self.loss_module(batch.to(self.device))
        total = terms["total"]
        if not torch.isfinite(total):
            raise TrainingError(
                f"loss became {total.item()} at epoch {self.epoch + 1}; try a lower --lr"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(total).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.params, self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return {name: float(value.detach()) for name, value in terms.items()}

    def train_epoch(self, train: PairData) -> dict[str, float]:
        """One pass over `train` in a (seed, epoch)-determined order.

        Returns:
            Each loss term (the keys of `Method.loss`) averaged over this rank's steps.

        Raises:
            TrainingError: If the total loss is not finite.
        """
        from mrw.core.progress import progress_bar

        self.method.train()
        self.method.on_epoch_start(self.epoch)
        # Order depends only on (seed, epoch): every rank agrees and a resumed run replays it.
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.epoch)
        world, rank = dist_util.world_size(), dist_util.rank()
        batches = train.train_batches(self.config.batch_size, generator, rank, world)
        totals: dict[str, float] = {}
        steps = 0
        bar = progress_bar(
            batches,
            total=train.num_train_batches(self.config.batch_size, world),
            leave=False,
            desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
            disable=not self.progress,
        )
        for batch in bar:
            for name, value in self._step(batch).items():
                totals[name] = totals.get(name, 0.0) + value
            steps += 1
            bar.set_postfix(loss=f"{totals['total'] / steps:.4f}", refresh=False)
        return {name: value / max(steps, 1) for name, value in totals.items()}

    def fit(self, train: PairData, validation: PairData, resume: bool = False) -> TrainResult:
        """Train to `config.epochs`, checkpointing each epoch; keep the best-validation weights.

        With `config.patience` set, training ends once that many epochs in a row brought no
        better validation rsum (early stopping; a resumed run applies the same rule).
        """
        if resume:
            self.load()
        else:
            seed_everything(self.config.seed)
        while self.epoch < self.config.epochs and not self._patience_spent():
            started = time.perf_counter()
            losses = self.train_epoch(train)
            metrics = evaluate(
                self.method, validation, self.device, self.config.eval_batch_size
            ).metrics
            rsum = float(metrics.rsum)  # exact: the evaluator ranks the full gallery
            self.epoch += 1
            if rsum > self.best_rsum:
                self.best_rsum, self.best_epoch = rsum, self.epoch
                self.best_state = {
                    k: v.detach().cpu().clone() for k, v in self.method.state_dict().items()
                }
            self.scheduler.step(rsum)
            record = {
                "epoch": self.epoch,
                "loss": losses,
                "lr": self.optimizer.param_groups[0]["lr"],
                "validation": metrics.to_json(),
                "validation_rsum": rsum,
                "epoch_time_s": round(time.perf_counter() - started, 3),
            }
            self.history.append(record)
            self.save()
            if dist_util.is_main():
                self.log(record)
        if self.best_state is not None:
            self.method.load_state_dict(copy.deepcopy(self.best_state))
        return TrainResult(self.best_epoch, self.best_rsum, self.history)

    def _patience_spent(self) -> bool:
        """Whether early stopping ends training now: `patience` epochs without a new best."""
        patience = self.config.patience
        return patience is not None and self.epoch - self.best_epoch >= patience
