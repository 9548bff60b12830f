"""One loss normalisation for every method: PVSE without PIE-Net is VSE0/VSE++ exactly.

PVSE at K=0 (the global feature alone), VSE++'s margin and no MMD is VSE++ by construction:
same encoders built in the same order, one embedding, cosine, the same hinge. If the two
losses were normalised differently (PVSE averaging over negatives where VSE++ sums), the
shared gradient-norm clipping would turn that factor into a different effective learning
rate; here they must train identically, step for step.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from baselines.vsepp import VSEPP, VSEPPConfig
from mrw.bench.data import PairData
from mrw.bench.trainer import TrainConfig, Trainer, seed_everything
from mrw.methods.base import MethodContext
from mrw.methods.vocab import Vocabulary
from mrw.testing.bench_synthetic import FEATURE_DIM, make_split
from pvse.method import PVSE, PVSEConfig

DIM, WORD_DIM = 32, 16


def _train(method_name: str, max_violation: bool, tmp_path: Path) -> tuple[list[float], dict]:
    split = make_split("train", 96, seed=5)
    vocab = Vocabulary.build(split.sentences)
    context = MethodContext(FEATURE_DIM, len(vocab), 96)
    seed_everything(0)
    if method_name == "pvse":
        config = PVSEConfig(
            k=0,
            embed_dim=DIM,
            hidden_dim=DIM,
            word_dim=WORD_DIM,
            margin=0.2,
            mmd_weight=0.0,
            max_violation=max_violation,
        )
        model = PVSE(config, context)
    else:
        model = VSEPP(VSEPPConfig(DIM, WORD_DIM, 0.2, max_violation), context)
    trainer = Trainer(
        model,
        TrainConfig(epochs=1, batch_size=32, seed=3),
        torch.device("cpu"),
        tmp_path / f"{method_name}.pt",
        progress=False,
    )
    data = PairData(split, vocab)
    losses = []
    for epoch in range(2):
        trainer.epoch = epoch
        losses.append(trainer.train_epoch(data)["total"])
    return losses, {name: p.detach().clone() for name, p in model.named_parameters()}


@pytest.mark.parametrize("max_violation", [False, True], ids=["summed", "hardest"])
def test_pvse_k0_trains_exactly_like_vsepp(max_violation: bool, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    pvse_losses, pvse_params = _train("pvse", max_violation, tmp_path)
    vsepp_losses, vsepp_params = _train("vsepp", max_violation, tmp_path)
    assert pvse_losses == vsepp_losses
    # Same tensors in the same creation order (module names differ: visual_ vs video_).
    assert [p.shape for p in pvse_params.values()] == [p.shape for p in vsepp_params.values()]
    for pvse_param, vsepp_param in zip(pvse_params.values(), vsepp_params.values(), strict=True):
        assert torch.equal(pvse_param, vsepp_param)
    # The check has teeth: training moved the weights, and the summed loss is of order B.
    start = _train_start_params(tmp_path)
    assert any(
        not torch.equal(a, b) for a, b in zip(start.values(), pvse_params.values(), strict=True)
    )
    if not max_violation:
        assert pvse_losses[0] > 1.0  # summed over 31 negatives at margin 0.2, not averaged


def _train_start_params(tmp_path: Path) -> dict:
    split = make_split("train", 96, seed=5)
    vocab = Vocabulary.build(split.sentences)
    seed_everything(0)
    model = VSEPP(
        VSEPPConfig(DIM, WORD_DIM, 0.2, False), MethodContext(FEATURE_DIM, len(vocab), 96)
    )
    return {name: p.detach().clone() for name, p in model.named_parameters()}
