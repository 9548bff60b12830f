"""Frame feature extractors ("backbones") for the feature cache: torchvision CNNs with named
ImageNet weights (or random ones, asked for explicitly), and the learning-free extractors of
the toy sets. `build_backbone` returns the model and the weights actually loaded (that name
is part of the cache key), `FrameEncoder` wraps it for per-frame (or 7x7 grid) features.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mrw.core.errors import MRWError

log = logging.getLogger(__name__)

GRID_CELLS = 7  # side of the histogram backbone's grid (ResNet-152's map at 224 px is 7 x 7)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
PRECOMPUTED = "precomp"
# The backbones that are not torchvision models (built here, or imported): no weights to load.
LEARNING_FREE = ("histogram", "colour-edges")
WEIGHTLESS = (*LEARNING_FREE, PRECOMPUTED)


class FeatureError(MRWError):
    """Unknown backbone or weights, or a dataset split that yields no usable video."""


WEIGHTS_NONE = "none"  # random initialisation (one fixed seed), for offline use
# `clip:MODEL` with weights = an open_clip tag: per-frame CLIP image embeddings (the image
# tower's projected output), the joint space of that model's text tower.
CLIP_PREFIX = "clip:"
LEGACY_IMAGENET = "imagenet"  # older configs: torchvision's DEFAULT, resolved to its name


def resolve_weights(backbone: str, weights: str) -> str:
    """The concrete name of `backbone`'s weights, as the cache key and run records hold it.

    Args:
        backbone: a torchvision classification model name, `clip:MODEL` (an open_clip
            architecture; its weights are an open_clip tag, `hf-hub:org/repo` or `none`), or
            one of `WEIGHTLESS` (the learning-free `histogram` and `colour-edges`, imported
            `precomp`: no weights).
        weights: `none`, or a member of the backbone's torchvision weights enum
            (`IMAGENET1K_V1`: the original ImageNet weights of the PVSE paper's era;
            `IMAGENET1K_V2`; `DEFAULT`: whatever torchvision currently ships as best, which
            for ResNet-152 is V2); `imagenet` is read as `DEFAULT` (older configs).

    Returns:
        `none`, or the enum member's own name (`DEFAULT` -> `IMAGENET1K_V2` for ResNet-152).

    Raises:
        FeatureError: the backbone has no weights of that name (`WeightsError` for `clip:`).
    """
    if backbone.startswith(CLIP_PREFIX):
        from mrw.methods.openclip import check_known

        check_known(backbone[len(CLIP_PREFIX) :], weights)
        return weights
    if weights == WEIGHTS_NONE or backbone in WEIGHTLESS:
        return WEIGHTS_NONE
    import torchvision

    try:
        enum = torchvision.models.get_model_weights(backbone)
    except (ValueError, KeyError):
        raise FeatureError(
            f"unknown backbone {backbone!r} (any torchvision classification model name)"
        ) from None
    name = "DEFAULT" if weights == LEGACY_IMAGENET else weights
    try:
        return enum[name].name
    except KeyError:
        choices = ", ".join([*enum.__members__, WEIGHTS_NONE])
        raise FeatureError(
            f"unknown weights {weights!r} for {backbone}; use one of {choices}"
        ) from None


def _pretrained_state_dict(backbone: str, weights: str) -> dict[str, Tensor]:
    """The named weights from the torch hub cache, or downloaded when online.

    Raises:
        FeatureError: not cached while offline (`HF_HUB_OFFLINE`/`MRW_OFFLINE`), or the
            download failed. There is no silent fallback to random weights.
    """
    import torchvision

    member = torchvision.models.get_model_weights(backbone)[weights]
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(member.url).name
    offline = any(os.environ.get(k) == "1" for k in ("HF_HUB_OFFLINE", "MRW_OFFLINE"))
    advice = f"put {cached.name} in {cached.parent}, or pass --weights none for random weights"
    if not cached.is_file() and offline:
        raise FeatureError(f"cannot load {backbone} {weights} weights offline: {advice}")
    try:
        return member.get_state_dict(progress=True, check_hash=False)
    except Exception as exc:  # noqa: BLE001 - no network, a proxy, a bad download: one line
        reason = " ".join(str(exc).split())[:160]
        raise FeatureError(
            f"cannot load {backbone} {weights} weights ({reason}): {advice}"
        ) from None


class ColourHistogram(nn.Module):
    """The learning-free backbone `histogram`: per frame, a joint RGB histogram (`bins` per
    channel) in each cell of a `grid` x `grid` layout (256 values at the defaults).

    Made for the synthetic toy set, whose sentences name colours, shapes and motions of small
    objects: an untrained CNN maps its clips to nearly identical vectors, while colour
    presence per region is linear in these histograms. Input is ImageNet-normalised (as for
    every backbone) and is mapped back to [0, 1] first. `spatial=True` returns the map
    `[N, bins^3, grid, grid]` (one histogram per cell), the grid layout of `FeatureSpec.grid`.
    """

    def __init__(self, bins: int = 4, grid: int = 2, spatial: bool = False) -> None:
        super().__init__()
        self.bins, self.grid, self.spatial = bins, grid, spatial
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        levels = ((x * self.std + self.mean) * self.bins).long().clamp_(0, self.bins - 1)
        index = (levels[:, 0] * self.bins + levels[:, 1]) * self.bins + levels[:, 2]  # [N, H, W]
        onehot = nn.functional.one_hot(index, self.bins**3).permute(0, 3, 1, 2).float()
        pooled = nn.functional.adaptive_avg_pool2d(onehot, self.grid)
        return pooled if self.spatial else pooled.flatten(1)


class ClipImageTower(nn.Module):
    """The backbone `clip:MODEL`: an open_clip model's image tower, one embedding per frame.

    Input is ImageNet-normalised like every backbone's (`FrameEncoder`); it is mapped back to
    [0, 1] and prepared as the model expects (`mrw.methods.openclip.ClipFrames`). Output:
    `[N, D]` projected, unnormalised image embeddings (D = 512 for ViT-B-32). `weights` names
    the loaded weights and their checksum (`ClipWeights`).
    """

    def __init__(self, model: str, pretrained: str) -> None:
        super().__init__()
        from mrw.methods.openclip import ClipFrames, load_clip

        clip, self.weights = load_clip(model, pretrained)
        self.visual = clip.visual
        self.prepare = ClipFrames(clip)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.visual(self.prepare((x * self.std + self.mean).clamp(0, 1)))


def _random_model(torchvision: Any, backbone: str) -> nn.Module:
    """A randomly initialised torchvision model, residual branches zeroed where supported.

    A deep ResNet with default random init and BatchNorm at its initial statistics grows its
    activations block by block (about 3e8 at the end of ResNet-152): beyond fp16's range, so
    cached features would be infinite. Zero-initialised residual branches keep every block
    close to the identity and the features well scaled.
    """
    try:
        return torchvision.models.get_model(backbone, weights=None, zero_init_residual=True)
    except TypeError:  # not a ResNet-style model
        return torchvision.models.get_model(backbone, weights=None)


def build_backbone(backbone: str, weights: str, grid: bool = False) -> tuple[nn.Module, str]:
    """A torchvision classifier with its head removed, and the resolved weights name.

    Args:
        backbone: torchvision model name, `histogram` or `colour-edges`.
        weights: see `resolve_weights`.
        grid: stop at the last convolutional map, `[N, F, h, w]` (ResNet-152 at 224 px:
            `[N, 2048, 7, 7]`, whose mean over cells is the pooled feature); `histogram` then
            gives one colour histogram per cell of a 7 x 7 grid.

    Returns:
        (model in eval mode mapping `[N, 3, H, W]` to `[N, F]` (grid: `[N, F, h, w]`),
        resolved weights name).

    Raises:
        FeatureError: unknown backbone or weights, weights that cannot be loaded (never
            replaced by random ones: that needs an explicit `none`), imported (`precomp`)
            features, or (grid) no convolutional map to keep.
    """
    import torchvision

    if backbone == PRECOMPUTED:
        raise FeatureError(
            "precomputed features are imported, not extracted: "
            "`mrw import precomp DIR --name DATASET` first"
        )
    weights = resolve_weights(backbone, weights)
    if backbone.startswith(CLIP_PREFIX):
        if grid:
            raise FeatureError("clip: backbones give one embedding per frame: no grid (--no-grid)")
        return ClipImageTower(backbone[len(CLIP_PREFIX) :], weights).eval(), weights
    if backbone == "histogram":
        return ColourHistogram(grid=GRID_CELLS if grid else 2, spatial=grid).eval(), WEIGHTS_NONE
    if backbone == "colour-edges":
        if grid:
            raise FeatureError("colour-edges gives one vector per frame: no grid (--no-grid)")
        from mrw.bench.toy_features import ColourEdgeFeatures

        return ColourEdgeFeatures(IMAGENET_MEAN, IMAGENET_STD).eval(), WEIGHTS_NONE
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(
                0
            )  # "none" is one fixed random CNN: cached features and fine-tuning agree
            model = _random_model(torchvision, backbone)
    except ValueError:
        raise FeatureError(
            f"unknown backbone {backbone!r} (any torchvision classification model name)"
        ) from None
    if weights != WEIGHTS_NONE:
        model.load_state_dict(_pretrained_state_dict(backbone, weights))
    if grid:
        return _convolutional_trunk(model, backbone).eval(), weights
    for head in ("fc", "classifier", "head", "heads"):
        if hasattr(model, head):
            setattr(model, head, nn.Identity())
            break
    else:
        raise FeatureError(f"backbone {backbone!r} has no classification head to remove")
    return model.eval(), weights


def _convolutional_trunk(model: nn.Module, backbone: str) -> nn.Module:
    """The part of a torchvision classifier that ends with its last spatial feature map."""
    if hasattr(model, "avgpool") and hasattr(model, "fc"):  # ResNet family: drop pool and fc
        return nn.Sequential(*list(model.children())[:-2])
    if hasattr(model, "features"):  # VGG, DenseNet, EfficientNet, MobileNet, ConvNeXt
        return model.features
    raise FeatureError(f"backbone {backbone!r}: no convolutional map to keep for --grid")


class FrameEncoder(nn.Module):
    """uint8 frames `[N, 3, H, W]` -> features `[N, F]`: resize, ImageNet-normalise, CNN.

    With `grid` (a CNN from `build_backbone(..., grid=True)`) the output is the map's cells,
    `[N, h * w, F]` in row-major order.
    """

    def __init__(self, cnn: nn.Module, image_size: int, grid: bool = False) -> None:
        super().__init__()
        self.cnn = cnn
        self.image_size = image_size
        self.grid = grid
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def forward(self, frames: Tensor) -> Tensor:
        x = frames.float().div_(255)
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = nn.functional.interpolate(
                x,
                size=(self.image_size, self.image_size),
                mode="bilinear",
                antialias=True,
                align_corners=False,
            )
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        out = self.cnn(x)
        return out.flatten(2).transpose(1, 2) if self.grid else out.flatten(1)
