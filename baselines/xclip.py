"""`xclip-zeroshot`: zero-shot X-CLIP retrieval through `transformers` (the `xclip` extra).

X-CLIP (Ni et al., "Expanding Language-Image Pretrained Models for General Video
Recognition", ECCV 2022) extends CLIP with cross-frame attention in the image tower, a
multi-frame integration transformer (MIT) that turns the T frame embeddings into one video
embedding, and a prompt generator that adds to each text embedding what two cross-attention
layers read from the video's patch tokens (its "video-specific prompting"). The model,
weights, tokenizer and image processor are `transformers`' (`XCLIPModel`, `AutoTokenizer`,
`AutoImageProcessor`); this module scores a whole gallery with them:

- video: `XCLIPModel.get_video_features` on exactly the model's `num_frames` frames (the MIT's
  position embedding has that many slots): the run's decoded frames are sampled at the
  centres of `num_frames` equal segments of each clip's valid frames (X-CLIP's test-time
  sampling, TSN segments), repeating frames of a clip that has fewer;
- text: `XCLIPModel.get_text_features` (the projected end-of-text token);
- score (`text_conditioning="video"`, the default): exactly `XCLIPModel.forward`'s
  `logits_per_video` divided by its constant `logit_scale`, i.e. the cosine of the video
  embedding and the text embedding plus the prompt generator's output for that video. The
  prompt depends on the pair, so it runs once per (video, sentence) pair, chunked; the text
  tower runs once per sentence, because the prompt generator acts on the projected text
  embedding, not on the tokens;
- `text_conditioning="none"` (this toolkit's option): the plain cosine of the two
  embeddings, without the prompt generator.

The evaluator needs one `[N, 1, W]` embedding per side of equal width W, so a video row packs
`[unit video embedding (D) | 0 | mean patch prompt tokens (P x D)]` and a sentence row
`[unit text embedding (D) | its norm | 0 (P x D)]`: the generic dot product of two rows is the
unconditioned cosine, and `similarity` reads the parts it needs for the exact score.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from mrw.core.errors import MRWError
from mrw.methods import openclip
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.openclip import PRETRAINED_NONE, ClipWeights, WeightsError
from mrw.methods.registry import register_method

DEFAULT_REPO = "microsoft/xclip-base-patch32"
CONDITIONINGS = ("video", "none")
# The Hub files a model needs: config, tokenizer and processor (json/txt), weights.
SMALL_FILES = ("*.json", "*.txt")
WEIGHT_FILES = ("*.safetensors",)
LEGACY_WEIGHTS = "pytorch_model.bin"  # repositories without safetensors
# (video, sentence) pairs per prompt-generator call: its MLP holds 4 x D activations per pair
# (256 MiB at D = 512 in fp32), whatever the chunk the evaluator passes.
PAIRS_PER_CALL = 32768


@dataclass
class XClipZeroShotConfig:
    """`pretrained`: a Hugging Face Hub repository id of an X-CLIP model (config, tokenizer,
    processor and weights, as `transformers` saves them), a local folder in that layout, or
    `none` (random weights: tests only) with the config, tokenizer and processor of
    `architecture` (a repository id or folder; default: `pretrained`'s default).
    `text_conditioning`: "video" (X-CLIP's video-specific prompts, the paper's score) or
    "none" (the unconditioned text embedding, this toolkit's option)."""

    pretrained: str = DEFAULT_REPO
    architecture: str = DEFAULT_REPO
    text_conditioning: str = "video"


def _transformers() -> Any:
    try:
        import transformers
    except ImportError:
        raise WeightsError("X-CLIP needs transformers: pip install 'mrw-toolkit[xclip]'") from None
    return transformers


def model_folder(name: str, weights: bool = True) -> tuple[Path, str]:
    """(local folder, source) of an X-CLIP model: `name` itself when it is a folder, else the
    Hub repository `name`'s snapshot in the Hugging Face cache, downloaded once when missing
    (config, tokenizer and processor files; with `weights`, the safetensors file, or
    `pytorch_model.bin` where the repository has none). The source is `repo@commit` or the
    folder's absolute path.

    Raises:
        WeightsError: `name` is neither a folder nor a repository id, or the files are not
            cached and cannot be fetched (offline: `HF_HUB_OFFLINE=1` or `MRW_OFFLINE=1`, no
            network): one line naming the repository and how to get it.
    """
    folder = Path(name).expanduser()
    if folder.is_dir():
        return folder, str(folder.resolve())
    from huggingface_hub import constants, hf_hub_download, snapshot_download
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        raise WeightsError(
            f"X-CLIP model {name!r} is neither a folder nor a Hugging Face Hub repository id"
        ) from None
    patterns = [*SMALL_FILES, *WEIGHT_FILES] if weights else list(SMALL_FILES)
    try:
        snapshot = _cached_snapshot(name, patterns)
        if snapshot is None or (weights and not weight_files(snapshot)):
            if openclip.hub_offline():
                raise OSError("offline: HF_HUB_OFFLINE or MRW_OFFLINE is set")
            unreachable = openclip.hub_unreachable(constants.ENDPOINT)
            if unreachable:
                raise OSError(unreachable)
            snapshot = Path(snapshot_download(name, allow_patterns=patterns))
            if weights and not weight_files(snapshot):
                hf_hub_download(name, LEGACY_WEIGHTS)  # into the same snapshot folder
    except Exception as exc:  # noqa: BLE001 - offline, no network, a proxy, no such repo
        why = " ".join(str(exc).split())[-160:]
        raise WeightsError(
            f"X-CLIP model {name} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) "
            f"and cannot be fetched ({why}): run `hf download {name}` (or once with network "
            "access), or give a local folder with --set pretrained=PATH "
            f"(a random model, tests only: --set pretrained={PRETRAINED_NONE})"
        ) from None
    return snapshot, f"{name}@{snapshot.name}"


def _cached_snapshot(repo: str, patterns: list[str]) -> Path | None:
    """The cached snapshot folder of `repo`'s main revision, or None; no request is made."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, allow_patterns=patterns, local_files_only=True))
    except LocalEntryNotFoundError:
        return None


def weight_files(folder: Path) -> list[Path]:
    """The checkpoint files `from_pretrained` reads in `folder`: its safetensors files (one,
    or the shards of a sharded checkpoint), else `pytorch_model.bin`; sorted by name."""
    found = sorted(folder.glob("*.safetensors"))
    legacy = folder / LEGACY_WEIGHTS
    return found or ([legacy] if legacy.is_file() else [])


def weights_sha256(files: Sequence[Path]) -> str:
    """SHA-256 of a checkpoint: the file's own for one file; for shards, the SHA-256 of their
    hex digests joined by newlines in name order.

    Raises:
        WeightsError: no file.
    """
    from mrw.core.provenance import file_sha256

    if not files:
        raise WeightsError("no X-CLIP checkpoint file (*.safetensors or pytorch_model.bin)")
    digests = [file_sha256(path) for path in files]
    if len(digests) == 1:
        return digests[0]
    return hashlib.sha256("\n".join(digests).encode()).hexdigest()


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """`transformers`' load report and progress bars off while a model is loaded here: a
    missing or unexpected key is this module's error, not a warning."""
    logging = _transformers().utils.logging
    verbosity, bars = logging.get_verbosity(), logging.is_progress_bar_enabled()
    logging.set_verbosity_error()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)
        if bars:
            logging.enable_progress_bar()


def load_xclip(pretrained: str, architecture: str = DEFAULT_REPO) -> tuple[nn.Module, ClipWeights]:
    """An `XCLIPModel` in eval mode with its weights loaded strictly.

    Args:
        pretrained: Hub repository id or local folder (`model_folder`), or `none`: random
            weights (seed 0) of `architecture`'s config.
        architecture: where a `none` model's config comes from (repository id or folder).

    Returns:
        (the model, `ClipWeights` with model `x-clip`, the repository or folder, its
        `repo@commit` source and the checkpoint's SHA-256; source and checksum None for
        `none`).

    Raises:
        WeightsError: transformers absent, weights not cached while offline, a folder that
            holds no X-CLIP model, or a checkpoint with missing, unexpected or mis-shaped keys
            (named).
    """
    transformers = _transformers()
    if pretrained == PRETRAINED_NONE:
        folder, _ = model_folder(architecture, weights=False)
        config = transformers.XCLIPConfig.from_pretrained(folder)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            model = transformers.XCLIPModel(config)
        return model.eval(), ClipWeights("x-clip", PRETRAINED_NONE, None, None)
    folder, source = model_folder(pretrained)
    try:
        with _quiet_transformers():
            model, info = transformers.XCLIPModel.from_pretrained(
                folder, output_loading_info=True, local_files_only=True
            )
    except (OSError, ValueError, RuntimeError, KeyError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise WeightsError(f"X-CLIP weights {pretrained} ({folder}): {reason}") from None
    missing, unexpected = sorted(info["missing_keys"]), sorted(info["unexpected_keys"])
    mismatched = sorted(str(key) for key in info["mismatched_keys"])
    if missing or unexpected or mismatched:
        raise WeightsError(
            f"X-CLIP weights {pretrained} ({folder}) do not fit the model: missing keys "
            f"{openclip.name_keys(missing)}; unexpected keys {openclip.name_keys(unexpected)}; "
            f"mis-shaped keys {openclip.name_keys(mismatched)}"
        )
    sha = weights_sha256(weight_files(folder))
    return model.eval(), ClipWeights("x-clip", pretrained, source, sha)


def _processing_folder(config: XClipZeroShotConfig) -> Path:
    """Where the tokenizer and image processor of `config`'s model are read from."""
    none = config.pretrained == PRETRAINED_NONE
    return model_folder(config.architecture if none else config.pretrained, weights=False)[0]


def training_data(weights: ClipWeights) -> str:
    """The pretraining half of the row's declaration: X-CLIP's video data (Kinetics-400 for
    Microsoft's checkpoints, Kinetics-600 for their `-kinetics-600` ones), on CLIP's WIT-400M
    initialisation; web-scale, so the overlap with the test media is unknown."""
    name = weights.pretrained
    if name == PRETRAINED_NONE:
        return "X-CLIP random initialisation (pretrained=none: not a result)"
    if "kinetics-600" in name:
        data = "Kinetics-600"
    elif name.startswith("microsoft/xclip-") and not any(s in name for s in ("hmdb", "ucf")):
        data = "Kinetics-400"
    else:
        data = "the data its model card names"
    return f"X-CLIP {name} pretrained on {data} (CLIP init: WIT-400M); unknown overlap"


def _check_conditioning(config: XClipZeroShotConfig) -> None:
    """Raises: MRWError: `text_conditioning` is not one of `CONDITIONINGS`."""
    if config.text_conditioning not in CONDITIONINGS:
        raise MRWError(
            f"xclip-zeroshot: text_conditioning must be one of {', '.join(CONDITIONINGS)}, "
            f"got {config.text_conditioning!r}"
        )


def segment_centres(lengths: Tensor, count: int) -> Tensor:
    """`[B]` valid frame counts (>= 1) -> `[B, count]` frame indices: the centre frame of each
    of `count` equal segments of a clip (TSN's test-time sampling, which X-CLIP's evaluation
    uses); a clip shorter than `count` repeats frames."""
    steps = torch.arange(count, device=lengths.device, dtype=torch.float64) + 0.5
    index = (steps[None, :] * lengths[:, None].double() / count).floor().long()
    return torch.minimum(index, (lengths[:, None] - 1).clamp(min=0))


@register_method
class XClipZeroShot(Method):
    """Zero-shot X-CLIP: decoded frames through the model's own image processor and video
    encoder, sentences through its tokenizer and text encoder, scored by X-CLIP's
    video-conditioned cosine (or the unconditioned one). Nothing is trained."""

    name = "xclip-zeroshot"
    paper = (
        "Ni et al., Expanding Language-Image Pretrained Models for General Video "
        "Recognition, ECCV 2022 (X-CLIP; transformers' XCLIPModel)"
    )
    config_class = XClipZeroShotConfig
    zero_shot = True
    visual_input = "frames"

    def __init__(self, config: XClipZeroShotConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        _check_conditioning(config)
        self.xclip, self.weights = load_xclip(config.pretrained, config.architecture)
        self.xclip.requires_grad_(False)
        with _quiet_transformers():
            self.processor = _transformers().AutoImageProcessor.from_pretrained(
                _processing_folder(config)
            )
        vision = self.xclip.config.vision_config
        self.num_frames = vision.num_frames
        self.dim = self.xclip.config.projection_dim
        self.patches = (vision.image_size // vision.patch_size) ** 2

    @classmethod
    def text_tokenizer(
        cls, config: XClipZeroShotConfig
    ) -> Callable[[Sequence[str]], list[list[int]]]:
        """The model's own tokenizer (`AutoTokenizer`: CLIP's BPE with start and end tokens),
        cut at its `model_max_length` or the text tower's positions, whichever is fewer."""
        transformers = _transformers()
        folder = _processing_folder(config)
        with _quiet_transformers():
            tokenize = transformers.AutoTokenizer.from_pretrained(folder)
            positions = transformers.XCLIPConfig.from_pretrained(folder).text_config
        length = min(tokenize.model_max_length, positions.max_position_embeddings)

        def encode(sentences: Sequence[str]) -> list[list[int]]:
            if not sentences:
                return []
            return tokenize(list(sentences), truncation=True, max_length=length)["input_ids"]

        return encode

    @classmethod
    def fetch_weights(cls, config: XClipZeroShotConfig) -> None:
        _check_conditioning(config)  # before any download or decoding
        _transformers()
        if config.pretrained == PRETRAINED_NONE:
            model_folder(config.architecture, weights=False)
        else:
            model_folder(config.pretrained)

    def pretrained_weights(self) -> list[dict[str, Any]]:
        return [self.weights.to_json()]

    def training_data(self, dataset: str) -> str:
        return f"zero-shot; {training_data(self.weights)}"

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """`[B, T, 3, S, S]` uint8 frames, `[B]` valid counts -> `[B, 1, D + 1 + P*D]` rows:
        the unit MIT video embedding, a 0, and the frame-averaged patch tokens through the
        prompt projection (`XCLIPModel.forward`'s `img_features`), P = patches per frame. All
        B x num_frames frames go through the processor and the image tower in one batch."""
        index = segment_centres(lengths.clamp(min=1), self.num_frames)
        frames = video[torch.arange(len(video), device=video.device)[:, None], index]
        pixels = self.processor(list(frames), return_tensors="pt", device=video.device)
        out = self.xclip.get_video_features(pixel_values=pixels["pixel_values"])
        tokens = self.xclip.prompts_visual_layernorm(out.last_hidden_state[:, 1:])
        prompts = tokens @ self.xclip.prompts_visual_projection
        prompts = prompts.view(len(video), self.num_frames, self.patches, self.dim).mean(1)
        unit = nn.functional.normalize(out.pooler_output.float(), dim=-1)
        return torch.cat([unit, unit.new_zeros(len(video), 1), prompts.flatten(1).float()], 1)[
            :, None
        ]

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """`[B, L]` token ids (0-padded beyond `lengths`) -> `[B, 1, D + 1 + P*D]` rows: the unit
        text embedding, its norm, zeros."""
        mask = torch.arange(tokens.shape[1], device=tokens.device)[None, :] < lengths[:, None]
        text = self.xclip.get_text_features(input_ids=tokens, attention_mask=mask.long())
        embedded = text.pooler_output.float()
        norm = embedded.norm(dim=-1, keepdim=True)
        pad = embedded.new_zeros(len(tokens), self.patches * self.dim)
        return torch.cat([embedded / norm, norm, pad], dim=1)[:, None]

    def similarity(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """`[Nv, 1, W]` x `[Nt, 1, W]` packed rows -> `[Nv, Nt]` scores. "video": the cosine of
        each video embedding with each text embedding plus the prompt generator's output on
        that video's prompt tokens (`XCLIPModel.forward`: video-specific prompting), without the
        constant `logit_scale`; at most `PAIRS_PER_CALL` pairs per prompt-generator call,
        under fp16 autocast on CUDA. "none": the plain cosine."""
        d = self.dim
        video, text = video_emb[:, 0, :d], text_emb[:, 0, :d]
        if self.config.text_conditioning == "none":
            return video @ text.T
        embedded = text * text_emb[:, 0, d : d + 1]
        prompts = video_emb[:, 0, d + 1 :].reshape(len(video_emb), self.patches, d)
        out = video.new_empty(len(video), len(text))
        step = max(1, PAIRS_PER_CALL // max(len(text), 1))
        with torch.autocast("cuda", enabled=video.is_cuda):
            for start in range(0, len(video), step):
                part = prompts[start : start + step]
                texts = embedded[None].expand(len(part), -1, -1)
                conditioned = texts + self.xclip.prompts_generator(texts, part)
                unit = nn.functional.normalize(conditioned.float(), dim=-1)
                out[start : start + step] = torch.einsum(
                    "vd,vtd->vt", video[start : start + step], unit
                )
        return out

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """None: the row is zero-shot (the runner never trains it).

        Raises:
            MRWError: always.
        """
        raise MRWError(f"{self.name} is zero-shot: it has no training loss")
