"""A tiny X-CLIP model for offline tests, saved by `transformers` itself (`save_pretrained`:
`config.json`, `model.safetensors`, the tokenizer's and the processor's files) either into a
folder or into the Hugging Face Hub cache layout, so `baselines.xclip.load_xclip` loads it by
the same code path as a real repository, with no network and no mock.

The model has about 0.11 M parameters: 2-block towers of width 32 on 32 px frames (8 px
patches: 16 per frame), 3 frames, a 1-block MIT, 2 prompt-generator layers. The tokenizer is
CLIP's BPE with the 256 byte symbols (alone and word-final) and no merges: 514 tokens.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from mrw.testing.clip import hub_snapshot

TINY_REPO = "mrw-test/tiny-xclip"
TINY_FRAMES = 3
TINY_IMAGE = 32
WEIGHTS_FILE = "model.safetensors"  # what transformers' save_pretrained writes


def tiny_tokenizer() -> Any:
    """A `CLIPTokenizer` whose vocabulary is the byte-level alphabet (each symbol alone and
    word-final), then `<|startoftext|>` and `<|endoftext|>` (the highest id, as in CLIP)."""
    from tokenizers.pre_tokenizers import ByteLevel
    from transformers import CLIPTokenizer

    symbols = sorted(ByteLevel.alphabet())
    vocab = {symbol: i for i, symbol in enumerate(symbols)}
    vocab.update({symbol + "</w>": len(symbols) + i for i, symbol in enumerate(symbols)})
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=77)


def tiny_model(seed: int) -> Any:
    """A freshly initialised tiny `XCLIPModel` (`seed` decides its weights)."""
    from transformers import XCLIPConfig, XCLIPModel

    vocab = len(tiny_tokenizer())
    config = XCLIPConfig(
        text_config={
            "vocab_size": vocab,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "max_position_embeddings": 77,
            "eos_token_id": vocab - 1,
        },
        vision_config={
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "image_size": TINY_IMAGE,
            "patch_size": 8,
            "num_frames": TINY_FRAMES,
            "mit_hidden_size": 32,
            "mit_intermediate_size": 64,
            "mit_num_hidden_layers": 1,
            "mit_num_attention_heads": 2,
        },
        projection_dim=32,
        prompt_layers=2,
        prompt_num_attention_heads=2,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return XCLIPModel(config).eval()


def write_tiny_xclip(folder: Path, seed: int = 1) -> Path:
    """Save the tiny model, its tokenizer and image processor (X-CLIP's VideoMAE processor at
    32 px, ImageNet mean and std as X-CLIP's) into `folder` as `save_pretrained` does; returns
    the weights file's path."""
    from transformers import VideoMAEImageProcessor, XCLIPProcessor

    folder.mkdir(parents=True, exist_ok=True)
    tiny_model(seed).save_pretrained(folder)
    processor = VideoMAEImageProcessor(
        size={"shortest_edge": TINY_IMAGE},
        crop_size={"height": TINY_IMAGE, "width": TINY_IMAGE},
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    XCLIPProcessor(image_processor=processor, tokenizer=tiny_tokenizer()).save_pretrained(folder)
    return folder / WEIGHTS_FILE


def write_hub_xclip(cache_dir: Path, repo_id: str = TINY_REPO, seed: int = 1) -> Path:
    """The tiny model as the Hub cache holds a downloaded repository `repo_id`
    (`models--ORG--NAME/snapshots/COMMIT/...`, `refs/main`); returns the weights file."""
    return write_tiny_xclip(hub_snapshot(cache_dir, repo_id), seed)
