"""How a trained PVSE run's heads attend and embed (`mrw-bench heads RUN_DIR...`).

The init-time check (`pvse.diagnostics`) says whether PIE-Net *can* separate its heads; this
measures whether training *did*, on a split of the run's own data: per modality the attention
entropy against log T, the total-variation distance between heads' attention maps, and the
mean cosine between the K embeddings of an instance (1.0: the heads are copies of one
embedding). It rebuilds the model from the run record (`config.json`, `vocab.json`, the best
weights in `checkpoint.pt`) and the cached features, so it needs no training.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from mrw.methods.base import Batch


def load_trained(run_dir: str | Path, split: str = "test") -> tuple[Any, Any, dict[str, Any]]:
    """(the method with the run's best weights in eval mode, the split's `PairData`, the run's
    `config.json`), rebuilt from the run folder (`config.json`, `vocab.json`, `checkpoint.pt`)
    and the cached features as the runner built them (`--one-sentence-per-video` included);
    nothing is trained.

    Raises:
        MRWError: the run folder lacks one of those files, or its features are not cached.
    """
    from mrw.bench.data import PairData, one_sentence_per_video
    from mrw.bench.features import extract_features, prepare_inputs
    from mrw.bench.options import RunOptions
    from mrw.core.errors import MRWError
    from mrw.methods.base import MethodContext
    from mrw.methods.registry import create_method
    from mrw.methods.vocab import Vocabulary

    run_dir = Path(run_dir)
    try:
        config = json.loads((run_dir / "config.json").read_text(encoding="utf-8"))
        known = {f.name for f in dataclasses.fields(RunOptions)}
        options = RunOptions(**{k: v for k, v in config["options"].items() if k in known})
        method, method_config = str(config["method"]), dict(config["method_config"])
        vocab = Vocabulary.load(run_dir / "vocab.json")
        if not isinstance(options.dataset, str) or not options.dataset.strip():
            raise ValueError("config.json names no dataset")
        # Weights only: a run folder may come from anyone, and unpickling arbitrary objects
        # runs code; the harness's checkpoints hold tensors, numbers, strings and containers.
        state = torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)
        weights = state["best_model"] or state["model"]
    except (
        OSError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,
        RuntimeError,
        EOFError,
        RecursionError,
        pickle.UnpicklingError,
    ) as exc:
        reason = str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__
        raise MRWError(f"{run_dir}: cannot rebuild the model ({reason})") from None
    splits = {
        name: extract_features(options.feature_spec(name), progress=False)[0]
        for name in dict.fromkeys(("train", split))
    }
    splits = prepare_inputs(splits, bool(options.standardize_features), options.feature_mix or 0)
    if options.one_sentence_per_video and split == options.split:  # as the runner evaluated
        splits[split] = one_sentence_per_video(splits[split])
    context = MethodContext(splits["train"].feature_dim, len(vocab), len(splits["train"].pair_ids))
    model = create_method(method, context, method_config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise MRWError(f"{run_dir}: checkpoint.pt does not fit its config ({exc})") from None
    model.eval()
    return model, PairData(splits[split], vocab), config


@torch.no_grad()
def attention_maps(model: Any, batch: Batch) -> dict[str, Tensor]:
    """PIE-Net's attention of a PVSE model with K >= 1 on `batch`: per side ("video" over
    frames, "text" over tokens) `[B, K, T]` float, each row a distribution over the valid
    steps (Song & Soleymani 2019, eq. 2)."""
    sides = {
        "video": (model.visual_encoder, model.visual_head, batch.video, batch.video_lengths),
        "text": (model.text_encoder, model.text_head, batch.tokens, batch.token_lengths),
    }
    out = {}
    for side, (encoder, head, inputs, lengths) in sides.items():
        encoded = encoder(inputs, lengths)
        out[side] = head.pie_net.attention(encoded.local, encoded.mask)[1]
    return out


def head_report(run_dir: str | Path, split: str = "test") -> dict[str, Any]:
    """Attention and embedding spread of a finished PVSE run's best weights on `split`.

    Returns:
        {"run": path, "k": K, "video": {...}, "text": {...}}: each side has the
        `attention_activity` fields and `embedding_cosine`, the mean cosine between two
        heads' embeddings of one instance (None for K = 1).

    Raises:
        MRWError: not a PVSE run with PIE-Net (k = 0), or its features are not cached.
    """
    from mrw.bench.setaware import head_cosine
    from mrw.bench.setaware_columns import mean_head_cosine
    from mrw.core.errors import MRWError

    model, data, config = load_trained(run_dir, split)
    if config["method"] != "pvse" or not config["method_config"].get("k"):
        raise MRWError(f"{run_dir}: not a PVSE run with PIE-Net (k >= 1)")
    batch = data.batch(torch.arange(data.num_pairs))
    check = model.init_check(batch)  # the same measurement, now on trained weights
    with torch.no_grad():
        embedded = {
            "video": model.encode_video(batch.video, batch.video_lengths),
            "text": model.encode_text(batch.tokens, batch.token_lengths),
        }
    report: dict[str, Any] = {"run": str(run_dir), "k": config["method_config"]["k"]}
    for side, emb in embedded.items():
        report[side] = {**check[side], "embedding_cosine": mean_head_cosine(head_cosine(emb))}
    return report
