"""Every baseline learns: a few optimiser steps on a small generated set lift rsum far above chance.

The set is built so that retrieval is learnable but not trivial: each pair belongs to one of
a few concepts; the video's frames are noisy views of the concept's prototype and the
sentence mixes the concept's words with filler words shared by all concepts.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

from leaderboard.metrics import combine, ranks_to_metrics
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.registry import create_method

CONCEPTS, PAIRS, FRAMES, FEATURE_DIM = 6, 48, 4, 16
WORDS_PER_CONCEPT, FILLER = 3, 10
VOCAB = 2 + CONCEPTS * WORDS_PER_CONCEPT + FILLER

# Small but faithful configurations: each method keeps its paper's loss and margin.
SMALL = {
    "devise": {"word_dim": 16},
    "vsepp": {"embed_dim": 32, "word_dim": 16},
    "order": {"embed_dim": 32, "word_dim": 16},
    "corr_ae": {"code_dim": 32, "word_dim": 16},
    "dual_path": {"embed_dim": 32, "word_dim": 16, "text_channels": 32, "stage1_epochs": 10},
}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """Tiny models run far faster on one thread than fighting for cores on a busy machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def _toy_pairs(seed: int = 0) -> tuple[Batch, MethodContext]:
    g = torch.Generator().manual_seed(seed)
    concept = torch.arange(PAIRS) % CONCEPTS
    prototypes = torch.rand(CONCEPTS, FEATURE_DIM, generator=g) * 2
    video = prototypes[concept][:, None, :] + 0.3 * torch.randn(
        PAIRS, FRAMES, FEATURE_DIM, generator=g
    )
    lengths = torch.randint(2, FRAMES + 1, (PAIRS,), generator=g)
    concept_words = (
        2
        + concept[:, None] * WORDS_PER_CONCEPT
        + torch.randint(0, WORDS_PER_CONCEPT, (PAIRS, 2), generator=g)
    )
    filler = 2 + CONCEPTS * WORDS_PER_CONCEPT + torch.randint(0, FILLER, (PAIRS, 3), generator=g)
    tokens = torch.cat([concept_words, filler], 1)[:, torch.randperm(5, generator=g)]
    batch = Batch(video, lengths, tokens, torch.full((PAIRS,), 5), torch.arange(PAIRS))
    context = MethodContext(
        feature_dim=FEATURE_DIM,
        vocab_size=VOCAB,
        num_train_pairs=PAIRS,
        word_vectors=torch.randn(VOCAB, 16, generator=g) * 0.5,
    )
    return batch, context


def _rsum(method: Method, batch: Batch) -> float:
    method.eval()
    with torch.no_grad():
        scores = method.similarity(
            method.encode_video(batch.video, batch.video_lengths),
            method.encode_text(batch.tokens, batch.token_lengths),
        )
    method.train()
    positives = scores.diagonal()
    v2t = 1 + (scores > positives[:, None]).sum(1)
    t2v = 1 + (scores > positives[None, :]).sum(0)
    return combine(
        ranks_to_metrics(np.asarray(t2v), PAIRS), ranks_to_metrics(np.asarray(v2t), PAIRS)
    ).rsum


def _subset(batch: Batch, index: torch.Tensor) -> Batch:
    return Batch(
        batch.video[index],
        batch.video_lengths[index],
        batch.tokens[index],
        batch.token_lengths[index],
        batch.pair_ids[index],
    )


@pytest.mark.parametrize("name", sorted(SMALL))
def test_baseline_training_beats_chance_by_far(name: str) -> None:
    torch.manual_seed(0)
    data, context = _toy_pairs()
    method = create_method(name, context, SMALL[name])
    before = _rsum(method, data)
    optimiser = torch.optim.Adam([p for p in method.parameters() if p.requires_grad], lr=1e-2)
    order = torch.Generator().manual_seed(1)
    for epoch in range(40):
        method.on_epoch_start(epoch)
        for index in torch.randperm(PAIRS, generator=order).split(16):
            loss = method.loss(_subset(data, index))
            assert set(loss) >= {"total"} and torch.isfinite(loss["total"])
            optimiser.zero_grad()
            loss["total"].backward()
            optimiser.step()
    after = _rsum(method, data)
    # Chance: per direction R@1 + R@5 + R@10 = (1 + 5 + 10) / 48 -> rsum about 67.
    chance = 2 * 100 * (1 + 5 + 10) / PAIRS
    assert after > 2 * chance, (
        f"{name}: rsum {after:.1f} (chance {chance:.1f}, before {before:.1f})"
    )
    assert after > before + 60
