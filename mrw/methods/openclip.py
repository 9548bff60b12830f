"""CLIP-family models through `open_clip` (the `clip` extra): weights, tokenizer, frame input.

One loader for every user of a CLIP model (the `clip:` feature backbone, the zero-shot
method, CLIP4Clip), so each gets the same weights the same way:

- the checkpoint file is resolved by open_clip's own functions (`get_pretrained_cfg`,
  `download_pretrained`: the Hugging Face Hub cache, downloaded once when online);
- the model is built by `open_clip.create_model` (its config, QuickGELU and preprocessing
  settings of the tag) and the file loaded by `open_clip.load_checkpoint` (its key
  conversions), then checked strictly here: a missing or unexpected key is an error naming
  the keys, never a partly random model;
- the weights are identified by name and the file's SHA-256 (`ClipWeights`, in run records);
- no cached file while offline is one line saying how to get it; random weights only on the
  explicit `pretrained="none"` (tests, smoke runs).
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mrw.core.errors import MRWError

PRETRAINED_NONE = "none"  # random initialisation (one fixed seed): tests only, never results
HF_HUB_PREFIX = "hf-hub:"  # pretrained="hf-hub:org/repo": that repository's open_clip weights


class WeightsError(MRWError):
    """Unknown model or tag, weights that cannot be fetched, or a checkpoint whose keys do
    not match the model."""


@dataclass(frozen=True)
class ClipWeights:
    """Which weights a CLIP model holds: `model` (an open_clip architecture name),
    `pretrained` (a tag, `hf-hub:org/repo`, or `none`), `source` (the hub repository or URL
    the file came from), `sha256` of the checkpoint file (None for `none`)."""

    model: str
    pretrained: str
    source: str | None
    sha256: str | None

    @property
    def name(self) -> str:
        """`model/pretrained`, e.g. `ViT-B-32/laion2b_s34b_b79k`."""
        return f"{self.model}/{self.pretrained}"

    def to_json(self) -> dict[str, str | None]:
        """The record's form: name, source and checksum."""
        return {"name": self.name, "source": self.source, "sha256": self.sha256}


def _open_clip() -> Any:
    try:
        import open_clip
    except ImportError:
        raise WeightsError("CLIP models need open_clip: pip install 'mrw-toolkit[clip]'") from None
    return open_clip


def _pretrained_cfg(model: str, pretrained: str) -> dict[str, Any]:
    """open_clip's download config of a tag, or of `hf-hub:org/repo` (its default file)."""
    open_clip = _open_clip()
    if pretrained.startswith(HF_HUB_PREFIX):
        return {"hf_hub": pretrained[len(HF_HUB_PREFIX) :].strip("/") + "/"}
    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = open_clip.list_pretrained_tags_by_model(model)
        known = ", ".join(tags) if tags else "none known to open_clip"
        raise WeightsError(
            f"no CLIP weights {model}/{pretrained} (tags of {model}: {known}; "
            f"or hf-hub:ORG/REPO, or {PRETRAINED_NONE} for a random model)"
        )
    return cfg


def check_known(model: str, pretrained: str) -> None:
    """Refuse an architecture or tag open_clip does not know, without fetching anything.

    Raises:
        WeightsError: unknown model, or a tag that is not one of the model's.
    """
    open_clip = _open_clip()
    if model not in open_clip.list_models():
        hub = (
            "; give the architecture's name and pretrained=hf-hub:ORG/REPO" if ":" in model else ""
        )
        raise WeightsError(f"unknown CLIP model {model!r} (see open_clip.list_models()){hub}")
    if pretrained != PRETRAINED_NONE:
        _pretrained_cfg(model, pretrained)


def checkpoint_file(model: str, pretrained: str) -> tuple[str, str]:
    """(local checkpoint path, its source) of `model/pretrained`, from the Hugging Face Hub
    cache or downloaded now (open_clip's `download_pretrained`).

    Raises:
        WeightsError: unknown tag, or the file is neither cached nor downloadable (offline
            with `HF_HUB_OFFLINE=1`, no network): one line naming the weights and what to do.
    """
    open_clip = _open_clip()
    cfg = _pretrained_cfg(model, pretrained)
    from huggingface_hub import constants

    source = cfg.get("hf_hub") or cfg.get("url") or cfg.get("file")
    hub = bool(cfg.get("hf_hub"))  # open_clip prefers the Hub when a tag has both
    offline = hub_offline()
    try:
        path = _cached_or_none(open_clip, cfg) if hub else None
        if path is None:
            if offline:
                raise OSError("offline: HF_HUB_OFFLINE or MRW_OFFLINE is set")
            unreachable = hub_unreachable(constants.ENDPOINT) if hub else None
            if unreachable:
                raise OSError(unreachable)
            path = open_clip.download_pretrained(cfg)
    except Exception as exc:  # noqa: BLE001 - offline, no network, a proxy: one line
        why = " ".join(str(exc).split())[-160:]
        raise WeightsError(
            f"CLIP weights {model}/{pretrained} ({source}) are not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}) and cannot be fetched ({why}): run once with network "
            "access to download them (or, for a random model, --set pretrained=none; "
            "--weights none for a clip: backbone)"
        ) from None
    if not path:
        raise WeightsError(f"open_clip gives no file for CLIP weights {model}/{pretrained}")
    return str(path), str(source)


def hub_offline() -> bool:
    """Whether the Hub may not be asked: `HF_HUB_OFFLINE` (the Hub client's setting) or
    `MRW_OFFLINE=1`."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE) or os.environ.get("MRW_OFFLINE") == "1"


def _cached_or_none(open_clip: Any, cfg: dict[str, Any]) -> str | None:
    """A Hub-hosted checkpoint from the local cache only (open_clip's `download_pretrained`
    with the Hub client switched offline for the call: no request), or None when it is not
    cached. Not thread-safe: the switch is the client's module-level setting."""
    from huggingface_hub import constants

    previous = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = True
    try:
        return open_clip.download_pretrained(cfg) or None
    except Exception:  # noqa: BLE001 - not cached (open_clip wraps the Hub's error types)
        return None
    finally:
        constants.HF_HUB_OFFLINE = previous


def hub_unreachable(endpoint: str, timeout_s: float = 5.0) -> str | None:
    """Why the Hub cannot be reached (no network, a refused port), or None. The Hub client
    would retry a dead network for about a minute per file; this probe makes that one line
    at once. Skipped (None) behind an HTTP proxy, which only the client knows how to use."""
    import socket
    from urllib.parse import urlsplit

    if any(os.environ.get(k) for k in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return None
    parts = urlsplit(endpoint)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "", port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"no network: cannot reach {parts.hostname}:{port} ({exc.strerror or exc})"


def load_clip(model: str, pretrained: str) -> tuple[nn.Module, ClipWeights]:
    """An open_clip CLIP model in eval mode with its weights loaded strictly.

    Args:
        model: open_clip architecture name (`ViT-B-32`; any name in `open_clip.list_models()`,
            including configs added with `open_clip.add_model_config`).
        pretrained: a tag of that model (`laion2b_s34b_b79k`, `openai`, ...), `hf-hub:org/repo`
            (that repository's open_clip checkpoint), or `none` (random weights, seed 0).

    Returns:
        (the model, `ClipWeights` naming the weights and the file's SHA-256).

    Raises:
        WeightsError: unknown model or tag, weights not cached while offline, or a checkpoint
            with missing or unexpected keys (named).
    """
    from mrw.core.provenance import file_sha256

    open_clip = _open_clip()
    check_known(model, pretrained)
    if pretrained == PRETRAINED_NONE:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            clip = open_clip.create_model(model, pretrained=None)
        return clip.eval(), ClipWeights(model, pretrained, None, None)
    path, source = checkpoint_file(model, pretrained)
    tag = None if pretrained.startswith(HF_HUB_PREFIX) else pretrained
    # The tag's architecture settings (QuickGELU, preprocessing) without loading its file:
    # the file is loaded below, where its keys are checked.
    with _quiet_random_init_warning():
        clip = open_clip.create_model(model, pretrained=tag, load_weights=False)
    try:
        result = open_clip.load_checkpoint(clip, path, strict=False)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise WeightsError(f"CLIP weights {model}/{pretrained} ({path}): {reason}") from None
    missing = list(getattr(result, "missing_keys", []))
    unexpected = list(getattr(result, "unexpected_keys", []))
    if missing or unexpected:
        raise WeightsError(
            f"CLIP weights {model}/{pretrained} ({path}) do not fit the model: "
            f"missing keys {name_keys(missing)}; unexpected keys {name_keys(unexpected)}"
        )
    return clip.eval(), ClipWeights(model, pretrained, source, file_sha256(path))


@contextlib.contextmanager
def _quiet_random_init_warning() -> Iterator[None]:
    """Drop open_clip's "initialized randomly" warning while the model is built empty: its
    weights are loaded (and checked) right after."""

    def keep(record: logging.LogRecord) -> bool:
        return "initialized randomly" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def name_keys(keys: Sequence[str], shown: int = 8) -> str:
    """The first `shown` state-dict keys, comma-separated, `(+N more)`; `none` when empty."""
    if not keys:
        return "none"
    more = f" (+{len(keys) - shown} more)" if len(keys) > shown else ""
    return ", ".join(keys[:shown]) + more


def tokenizer(model: str) -> Callable[[Sequence[str]], list[list[int]]]:
    """open_clip's own tokenizer of `model`: sentences -> token id rows of the model's
    context length (start/end tokens and padding exactly as open_clip writes them)."""
    tokenize = _open_clip().get_tokenizer(model)

    def encode(sentences: Sequence[str]) -> list[list[int]]:
        return tokenize(list(sentences)).tolist() if sentences else []

    return encode


class ClipFrames(nn.Module):
    """`[N, 3, H, W]` RGB frames in [0, 1] -> the image tower's input: resized (bicubic,
    antialiased) to the model's input size and normalised with its mean and standard deviation
    (open_clip's `preprocess_cfg` of the loaded tag). Frames arrive square from the loader, so
    open_clip's shortest-side resize + centre crop reduces to this resize."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        cfg = _open_clip().get_model_preprocess_cfg(clip)
        size = cfg.get("size", 224)
        self.size = tuple(size) if isinstance(size, (list, tuple)) else (size, size)
        self.register_buffer("mean", torch.tensor(cfg["mean"]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(cfg["std"]).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[-2:]) != self.size:
            x = nn.functional.interpolate(
                x, size=self.size, mode="bicubic", antialias=True, align_corners=False
            ).clamp_(0, 1)
        return (x - self.mean) / self.std


def frame_mean(per_frame: Tensor, lengths: Tensor) -> Tensor:
    """`[B, T, D]` frame embeddings (zero beyond `lengths`) -> `[B, D]` mean over each clip's
    valid frames: CLIP4Clip's parameter-free "meanP" (Luo et al. 2021, Sec. 3.3)."""
    steps = torch.arange(per_frame.shape[1], device=per_frame.device)
    mask = (steps[None, :] < lengths[:, None]).to(per_frame.dtype)
    return (per_frame * mask[..., None]).sum(1) / mask.sum(1).clamp(min=1)[:, None]


def training_data(weights: ClipWeights) -> str:
    """The pretraining half of a row's training-data declaration."""
    if weights.pretrained == PRETRAINED_NONE:
        return f"CLIP {weights.model} random initialisation (pretrained=none: not a result)"
    return f"CLIP {weights.name} web-scale pretraining (unknown overlap with the test media)"
