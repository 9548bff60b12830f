"""The CLIP-family rows on the toy set with a tiny open_clip model (hub-layout checkpoint):
zero-shot end to end (run record, run files the scorer accepts, CLIP_benchmark's recalls),
CLIP4Clip meanP trained two epochs on CPU, and PVSE on cached CLIP features."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest
import torch

pytest.importorskip("open_clip")

from leaderboard.score import score_submission
from mrw.bench.options import RunOptions
from mrw.bench.record import RunRecord
from mrw.bench.runner import run_method
from mrw.core.errors import MRWError
from mrw.testing.clip import TINY_MODEL, register_tiny_model, tiny_state_dict, write_hub_checkpoint

HUB = "hf-hub:mrw-test/tiny-clip"


@pytest.fixture()
def clip_env(tmp_path, monkeypatch, toy_dataset_dir):
    """(toy folder, tmp_path, checkpoint file): the tiny model registered, its weights in a
    Hub cache, an empty feature cache."""
    import huggingface_hub.constants

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    register_tiny_model(tmp_path / "configs")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    checkpoint = write_hub_checkpoint(tmp_path / "hub", "mrw-test/tiny-clip", tiny_state_dict(1))
    return toy_dataset_dir, tmp_path, checkpoint


def _options(toy, tmp, **kwargs) -> RunOptions:
    fields = dict(
        dataset=str(toy),
        runs_dir=str(tmp / "runs"),
        device="cpu",
        num_frames=4,
        image_size=32,
        batch_size=32,
        progress=False,
    )
    return RunOptions(**{**fields, **kwargs})


def _clip_benchmark_recalls(scores: torch.Tensor, positive: torch.Tensor) -> dict[int, float]:
    """CLIP_benchmark's zero-shot retrieval recall@k (`recall_at_k` > 0, averaged): a query
    counts when any of its positives is among its k best, in percent. scores: [Nq, Nd]."""
    out = {}
    for k in (1, 5, 10):
        top = torch.topk(scores, k, dim=1).indices
        onehot = torch.nn.functional.one_hot(top, num_classes=scores.shape[1])
        hits = (onehot * positive[:, None, :]).sum(dim=(1, 2))
        out[k] = 100 * (hits > 0).float().mean().item()
    return out


def test_zero_shot_runs_end_to_end_and_equals_clip_benchmark(clip_env) -> None:
    import open_clip
    from safetensors.torch import load_file

    import mrw

    toy, tmp, checkpoint = clip_env
    result = run_method(
        "clip-zeroshot", {"model": TINY_MODEL, "pretrained": HUB}, _options(toy, tmp)
    )
    names = {p.name for p in result.run_dir.iterdir()}
    assert {"config.json", "metrics.json", "t2v.run.gz", "v2t.run.gz", "log.jsonl"} <= names
    assert "checkpoint.pt" not in names  # nothing trained
    record = RunRecord.from_disk(result.run_dir)
    assert record.config["train"]["epochs"] == 0 and record.best_epoch is None
    assert record.config["features"]["backbone"] == f"clip:{TINY_MODEL}"
    assert record.training_data.startswith("zero-shot; CLIP mrw-tiny-clip/hf-hub:")
    assert "unknown overlap" in record.training_data
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert [w["sha256"] for w in record.pretrained_weights] == [sha]
    scored = score_submission(
        toy / "qrels" / "test", result.run_dir / "t2v.run.gz", result.run_dir / "v2t.run.gz"
    )
    assert scored == record.metrics == record.exact_metrics

    # CLIP_benchmark's formulation, written here from the model alone: mean of L2-free frame
    # embeddings, L2-normalised; cosine matrix; a query is right if any positive is in top k.
    model = open_clip.create_model(TINY_MODEL, pretrained=None)
    model.load_state_dict(load_file(str(checkpoint)))
    model.eval()
    options = record.config["options"]
    rows = mrw.load_dataset(
        str(toy),
        split="test",
        num_frames=options["num_frames"],
        fps=options["fps"],
        size=options["image_size"],
    )
    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    videos: dict[str, torch.Tensor] = {}
    sentences, sentence_video = [], []
    with torch.no_grad():
        for row in rows:
            if row["video_id"] not in videos:
                frames = torch.as_tensor(row["frames"]).float() / 255
                videos[row["video_id"]] = model.encode_image((frames - mean) / std).mean(0)
            sentences.append(row["sentence"])
            sentence_video.append(list(videos).index(row["video_id"]))
        image = torch.nn.functional.normalize(torch.stack(list(videos.values())), dim=-1)
        tokens = open_clip.get_tokenizer(TINY_MODEL)(sentences)
        text = torch.nn.functional.normalize(model.encode_text(tokens), dim=-1)
    scores = text @ image.T
    positive = torch.zeros_like(scores)
    positive[torch.arange(len(sentences)), torch.tensor(sentence_video)] = 1
    t2v = _clip_benchmark_recalls(scores, positive)
    v2t = _clip_benchmark_recalls(scores.T, positive.T)
    metrics = record.exact_metrics
    assert metrics is not None
    for k in (1, 5, 10):
        assert metrics.t2v.recall[k] == pytest.approx(t2v[k])
        assert metrics.v2t.recall[k] == pytest.approx(v2t[k])


def test_zero_shot_refuses_training_and_other_features(clip_env) -> None:
    toy, tmp, _ = clip_env
    config = {"model": TINY_MODEL, "pretrained": HUB}
    with pytest.raises(MRWError, match="zero-shot: it trains nothing"):
        run_method("clip-zeroshot", config, _options(toy, tmp, epochs=2))
    with pytest.raises(MRWError, match="its own image tower"):
        run_method("clip-zeroshot", config, _options(toy, tmp, backbone="resnet18"))
    with pytest.raises(MRWError, match="--backbone and --finetune-epochs do not apply"):
        run_method("clip4clip", config, _options(toy, tmp, backbone="resnet18"))


def test_clip4clip_train_blocks_chooses_what_trains(clip_env) -> None:
    from mrw.methods.base import MethodContext
    from mrw.methods.registry import create_method

    context = MethodContext(feature_dim=3, vocab_size=10, num_train_pairs=10)

    def trainable(**overrides) -> set[str]:
        config = {"model": TINY_MODEL, "pretrained": "none", **overrides}
        method = create_method("clip4clip", context, config)
        return {name for name, p in method.named_parameters() if p.requires_grad}

    every = trainable()  # the paper's default: every layer
    assert "clip.token_embedding.weight" in every and "clip.visual.conv1.weight" in every
    heads = {
        "clip.logit_scale",
        "clip.visual.proj",
        "clip.visual.ln_post.weight",
        "clip.visual.ln_post.bias",
        "clip.text_projection",
        "clip.ln_final.weight",
        "clip.ln_final.bias",
    }
    assert trainable(train_blocks=0) == heads
    last = trainable(train_blocks=1) - heads
    assert last and all(".resblocks.1." in name for name in last)
    assert any(n.startswith("clip.visual.transformer") for n in last)
    assert any(n.startswith("clip.transformer") for n in last)


def test_clip4clip_trains_two_epochs_on_cpu(clip_env) -> None:
    toy, tmp, checkpoint = clip_env
    result = run_method(
        "clip4clip",
        {"model": TINY_MODEL, "pretrained": HUB, "train_blocks": 1},
        _options(toy, tmp, epochs=2, lr=1e-3),
    )
    log = [json.loads(line) for line in (result.run_dir / "log.jsonl").read_text().splitlines()]
    epochs = [entry for entry in log if "epoch" in entry]
    assert [e["epoch"] for e in epochs] == [1, 2]
    assert all(0 < e["loss"]["total"] < 10 for e in epochs)
    record = RunRecord.from_disk(result.run_dir)
    assert record.training_data.startswith(f"fine-tuned on {toy} train; CLIP ")
    assert record.best_epoch in (1, 2) and record.config["method_config"]["train_blocks"] == 1

    initial = tiny_state_dict(1)
    state = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)["model"]
    changed = {k for k, v in initial.items() if not torch.equal(state[f"clip.{k}"], v)}
    assert "logit_scale" in changed and "visual.proj" in changed  # heads and temperature train
    assert any(k.startswith("visual.transformer.resblocks.1.") for k in changed)  # last block
    assert not any(k.startswith("visual.transformer.resblocks.0.") for k in changed)  # frozen
    assert not any(k.startswith("transformer.resblocks.0.") for k in changed)
    assert "token_embedding.weight" not in changed
    with gzip.open(result.run_dir / "t2v.run.gz", "rt") as handle:
        assert handle.readline().split()[5] == "clip4clip"


def test_pvse_trains_on_cached_clip_features(clip_env) -> None:
    toy, tmp, checkpoint = clip_env
    options = _options(toy, tmp, epochs=1, backbone=f"clip:{TINY_MODEL}", weights=HUB)
    result = run_method("pvse", {"k": 2, "embed_dim": 16}, options)
    record = RunRecord.from_disk(result.run_dir)
    features = record.config["features"]
    assert features["backbone"] == f"clip:{TINY_MODEL}" and features["weights"] == HUB
    cached = list((tmp / "cache" / "features").rglob("clip_mrw-tiny-clip-hf-hub_*.pt"))
    assert len(cached) == 3  # train, validation, test
    assert torch.load(cached[0], weights_only=True)["features"].shape[-1] == 32  # embed_dim
    assert record.training_data == (
        f"trained on {toy} train; frame features: clip:{TINY_MODEL} {HUB} pretrained "
        "(unknown overlap with the test media)"
    )
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert record.pretrained_weights == [
        {"role": "features", "name": f"{TINY_MODEL}/{HUB}", "source": "mrw-test/tiny-clip/",
         "sha256": sha}
    ]  # fmt: skip
