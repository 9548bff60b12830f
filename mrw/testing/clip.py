"""A tiny open_clip model for offline tests: its config registered with open_clip, and its
weights written in the Hugging Face Hub cache layout, so `mrw.methods.openclip.load_clip`
loads them by the same code path as a real tag (open_clip's `download_pretrained` ->
`hf_hub_download` -> the cache) with no network and no mock.

The model has about 1.7 M parameters, 1.6 M of them CLIP's 49,408-token embedding table (the
tokenizer is the real one); the rest is a 2-block ViT on 32 px frames and a 2-block text
transformer of width 32.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from torch import Tensor

TINY_MODEL = "mrw-tiny-clip"
TINY_CONFIG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 2},
}
WEIGHTS_FILE = "open_clip_model.safetensors"  # open_clip's preferred hub file name


def register_tiny_model(folder: Path) -> str:
    """Write the tiny config as `folder/mrw-tiny-clip.json` and add it to open_clip's model
    registry (`open_clip.add_model_config`); returns the model name."""
    import open_clip

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{TINY_MODEL}.json"
    path.write_text(json.dumps(TINY_CONFIG))
    open_clip.add_model_config(path)
    return TINY_MODEL


def tiny_state_dict(seed: int) -> dict[str, Tensor]:
    """The weights of a freshly initialised tiny model (`seed` decides them)."""
    import open_clip

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(TINY_MODEL, pretrained=None)
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def write_hub_checkpoint(cache_dir: Path, repo_id: str, state_dict: dict[str, Tensor]) -> Path:
    """`state_dict` as the Hub cache holds a downloaded repository `repo_id`:
    `models--ORG--NAME/refs/main` naming a snapshot whose folder holds the safetensors file.
    Returns the file's path."""
    from safetensors.torch import save_file

    snapshot = hub_snapshot(cache_dir, repo_id)
    save_file(state_dict, str(snapshot / WEIGHTS_FILE))
    return snapshot / WEIGHTS_FILE


def hub_snapshot(cache_dir: Path, repo_id: str) -> Path:
    """The (created) snapshot folder of repository `repo_id` in a Hub cache at `cache_dir`:
    `models--ORG--NAME/snapshots/COMMIT`, with `refs/main` naming COMMIT (a SHA-1 of the id),
    so the Hub client resolves the repository's main revision to it offline."""
    repo = cache_dir / ("models--" + repo_id.replace("/", "--"))
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def run_without_weights(method: str, env: dict[str, str]) -> str:
    """Run `mrw-bench run METHOD --dataset toy` (the `mrw-bench` beside this interpreter) in
    `env` and return its one stderr line, after checking it failed as a missing-weights run
    must: exit 2, exactly one line, starting `error: `.

    Raises:
        AssertionError: another exit code, or not exactly one `error: ` line.
    """
    import subprocess
    import sys

    done = subprocess.run(
        [str(Path(sys.executable).parent / "mrw-bench"), "run", method, "--dataset", "toy"],
        check=False,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]
