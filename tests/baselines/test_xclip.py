"""The X-CLIP row (`baselines.xclip`) with a tiny model that `transformers` itself saves in
the Hub cache layout: loaded by the same code path as a real repository (strict keys, the
file's SHA-256), a renamed key refused by name, the score equal to `XCLIPModel.forward`'s,
and zero-shot retrieval on the toy set end to end through `mrw-bench run`, with run files
that `mrw-leaderboard score` accepts."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers", reason="X-CLIP needs the xclip extra (transformers)")

from baselines.xclip import (
    XClipZeroShot,
    XClipZeroShotConfig,
    load_xclip,
    segment_centres,
    training_data,
)
from leaderboard.score import score_submission
from mrw.bench.data import pad_tokens
from mrw.bench.record import RunRecord
from mrw.core.errors import MRWError
from mrw.methods.base import MethodContext
from mrw.methods.openclip import ClipWeights, WeightsError
from mrw.testing.xclip import TINY_FRAMES, TINY_REPO, tiny_model, write_hub_xclip, write_tiny_xclip

BIN = Path(sys.executable).parent
CONTEXT = MethodContext(feature_dim=3, vocab_size=10, num_train_pairs=10)


@pytest.fixture()
def hub(tmp_path, monkeypatch) -> Path:
    """A Hub cache holding the tiny model as repository `mrw-test/tiny-xclip`; returns its
    weights file."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    return write_hub_xclip(tmp_path / "hub")


def test_hub_layout_checkpoint_loads_strictly_with_its_checksum(hub, tmp_path) -> None:
    model, weights = load_xclip(TINY_REPO)
    expected = tiny_model(1).state_dict()
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys()
    assert all(torch.equal(loaded[k], v) for k, v in expected.items())
    sha = hashlib.sha256(hub.read_bytes()).hexdigest()
    assert weights.to_json() == {
        "name": f"x-clip/{TINY_REPO}",
        "source": f"{TINY_REPO}@{hub.parent.name}",  # the snapshot's commit
        "sha256": sha,
    }
    folder = tmp_path / "folder"  # a local folder in the same layout: same weights, same sum
    write_tiny_xclip(folder)
    assert load_xclip(str(folder))[1].sha256 == sha


def test_renamed_key_is_refused_by_name(hub) -> None:
    from safetensors.torch import load_file, save_file

    state = load_file(str(hub))
    state["mit.renamed_embedding"] = state.pop("mit.position_embedding")
    save_file(state, str(hub), metadata={"format": "pt"})
    with pytest.raises(WeightsError) as error:
        load_xclip(TINY_REPO)
    message = str(error.value)
    assert "missing keys mit.position_embedding" in message
    assert "unexpected keys mit.renamed_embedding" in message
    assert "\n" not in message


def test_not_cached_while_offline_names_the_repository(hub, monkeypatch) -> None:
    monkeypatch.setenv("MRW_OFFLINE", "1")
    with pytest.raises(WeightsError, match="X-CLIP model mrw-test/absent is not in the Hugging"):
        load_xclip("mrw-test/absent")
    with pytest.raises(WeightsError, match="neither a folder nor a Hugging Face Hub repository"):
        load_xclip("no such folder/x/y")


def test_segment_centres_pick_and_repeat_frames() -> None:
    index = segment_centres(torch.tensor([8, 3, 1]), 4)
    assert index.tolist() == [[1, 3, 5, 7], [0, 1, 1, 2], [0, 0, 0, 0]]


def test_scores_equal_xclip_forward_and_the_unconditioned_cosine(hub) -> None:
    from transformers import AutoImageProcessor, AutoTokenizer

    method = XClipZeroShot(XClipZeroShotConfig(pretrained=TINY_REPO), CONTEXT)
    plain = XClipZeroShot(XClipZeroShotConfig(TINY_REPO, text_conditioning="none"), CONTEXT)
    sentences = ["a cat jumps", "two dogs", "someone laughs at a joke"]
    generator = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (4, TINY_FRAMES, 3, 48, 48), generator=generator)
    frames = frames.to(torch.uint8)
    full = torch.full((4,), TINY_FRAMES)  # as many frames as the model's: all of them, in order
    tokens, lengths = pad_tokens(XClipZeroShot.text_tokenizer(method.config)(sentences))
    with torch.inference_mode():
        video, text = method.encode_video(frames, full), method.encode_text(tokens, lengths)
        exact = method.similarity(video, text)
        cosine = plain.similarity(video, text)

        # X-CLIP's own forward on the same inputs, prepared by its own processor/tokenizer.
        model = tiny_model(1)
        inputs = AutoTokenizer.from_pretrained(hub.parent)(sentences, padding=True)
        pixels = AutoImageProcessor.from_pretrained(hub.parent)(list(frames), return_tensors="pt")
        out = model(
            input_ids=torch.tensor(inputs["input_ids"]),
            attention_mask=torch.tensor(inputs["attention_mask"]),
            pixel_values=pixels["pixel_values"],
        )
        reference = out.logits_per_video / model.logit_scale.exp()
        v = model.get_video_features(pixel_values=pixels["pixel_values"]).pooler_output
        t = model.get_text_features(
            input_ids=torch.tensor(inputs["input_ids"]),
            attention_mask=torch.tensor(inputs["attention_mask"]),
        ).pooler_output
    torch.testing.assert_close(exact, reference, atol=1e-5, rtol=1e-4)
    unconditioned = (
        torch.nn.functional.normalize(v, dim=-1) @ torch.nn.functional.normalize(t, dim=-1).T
    )
    torch.testing.assert_close(cosine, unconditioned, atol=1e-5, rtol=1e-4)
    assert not torch.allclose(exact, cosine, atol=1e-3)  # the prompts change the scores


def test_random_model_is_explicit_and_declared(hub) -> None:
    config = XClipZeroShotConfig(pretrained="none", architecture=TINY_REPO)
    method = XClipZeroShot(config, CONTEXT)
    assert method.pretrained_weights() == [{"name": "x-clip/none", "source": None, "sha256": None}]
    assert "random initialisation" in method.training_data("toy")


def test_bad_conditioning_is_refused_before_any_download(monkeypatch) -> None:
    monkeypatch.setenv("MRW_OFFLINE", "1")
    config = XClipZeroShotConfig("mrw-test/absent", text_conditioning="text")
    with pytest.raises(MRWError, match="text_conditioning must be one of video, none, got 'text'"):
        XClipZeroShot.fetch_weights(config)


def test_training_data_names_the_pretraining_set() -> None:
    def declared(repo: str) -> str:
        return training_data(ClipWeights("x-clip", repo, f"{repo}@0", "0" * 64))

    assert declared("microsoft/xclip-base-patch32") == (
        "X-CLIP microsoft/xclip-base-patch32 pretrained on Kinetics-400 (CLIP init: WIT-400M); "
        "unknown overlap"
    )
    assert "on Kinetics-600 " in declared("microsoft/xclip-base-patch16-kinetics-600")
    assert "the data its model card names" in declared("microsoft/xclip-base-patch16-hmdb-2-shot")


def test_zero_shot_on_toy_end_to_end_through_the_cli(hub, tmp_path, toy_dataset_dir) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_HUB_CACHE=str(tmp_path / "hub"),
        HF_HUB_OFFLINE="1",
        MRW_CACHE=str(tmp_path / "cache"),
        OMP_NUM_THREADS="1",
    )
    runs = tmp_path / "runs"
    command = [
        str(BIN / "mrw-bench"),
        "run",
        "xclip-zeroshot",
        "--dataset",
        str(toy_dataset_dir),
        "--set",
        f"pretrained={TINY_REPO}",
        "--num-frames",
        "4",
        "--image-size",
        "32",
        "--device",
        "cpu",
        "--runs-dir",
        str(runs),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    (run_dir,) = {p.parent for p in runs.rglob("metrics.json")}
    record = RunRecord.from_disk(run_dir)
    assert record.method == "xclip-zeroshot" and record.config["train"]["epochs"] == 0
    assert record.training_data == (
        f"zero-shot; X-CLIP {TINY_REPO} pretrained on the data its model card names "
        "(CLIP init: WIT-400M); unknown overlap"
    )
    sha = hashlib.sha256(hub.read_bytes()).hexdigest()
    assert [(w["role"], w["sha256"]) for w in record.pretrained_weights] == [("method", sha)]
    t2v, v2t = run_dir / "t2v.run.gz", run_dir / "v2t.run.gz"
    truth = toy_dataset_dir / "qrels" / "test"
    assert score_submission(truth, t2v, v2t) == record.metrics == record.exact_metrics
    scored = subprocess.run(
        [str(BIN / "mrw-leaderboard"), "score", "--truth", str(truth), str(t2v), str(v2t)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert scored.returncode == 0, scored.stderr
