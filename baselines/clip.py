"""CLIP-family rows: `clip-zeroshot` (any open_clip model and tag, nothing trained) and
`clip4clip` (CLIP4Clip's meanP, fine-tuned by the harness's trainer).

Both follow CLIP4Clip's parameter-free "meanP" video encoder (Luo et al., "CLIP4Clip: An
empirical study of CLIP for end to end video clip retrieval", Neurocomputing 2022, Sec. 3.3):
the image tower embeds each sampled frame, the clip is the mean of its frame embeddings, the
text tower embeds the sentence, and the score is the cosine of the two. `clip-zeroshot` reads
the frame embeddings from the feature cache (backbone `clip:MODEL`, the same model), so it
is exactly meanP at zero-shot; `clip4clip` owns its image tower and trains on decoded frames.
The models, weights, tokenizer and preprocessing are open_clip's (`mrw.methods.openclip`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from mrw.methods import openclip
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.registry import register_method

LOGIT_SCALE_MAX = 100.0  # CLIP clamps its learned temperature's inverse to 100 (Radford et al.)


@dataclass
class ClipZeroShotConfig:
    """An open_clip model and its weights: `pretrained` is a tag of `model`
    (`open_clip.list_pretrained_tags_by_model`), `hf-hub:org/repo`, or `none` (random: tests)."""

    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"


@dataclass
class Clip4ClipConfig:
    """CLIP4Clip meanP. Defaults are the paper's: ViT-B/32 with OpenAI's weights, every
    layer trained. `train_blocks` = N >= 0 freezes both towers except their last N
    transformer blocks (the final norms, projections and the temperature always train), so a
    run fits one GPU or a CPU; -1 trains all."""

    model: str = "ViT-B-32"
    pretrained: str = "openai"
    train_blocks: int = -1


class _ClipMethod(Method):
    """What both CLIP rows share: the model, its tokenizer, the text tower, the symmetric
    InfoNCE loss and the training-data declaration."""

    def __init__(self, config: Any, context: MethodContext) -> None:
        super().__init__(config, context)
        self.clip, self.weights = openclip.load_clip(config.model, config.pretrained)

    @classmethod
    def text_tokenizer(cls, config: Any) -> Callable[[Sequence[str]], list[list[int]]]:
        return openclip.tokenizer(config.model)

    @classmethod
    def fetch_weights(cls, config: Any) -> None:
        if config.pretrained != openclip.PRETRAINED_NONE:
            openclip.check_known(config.model, config.pretrained)
            openclip.checkpoint_file(config.model, config.pretrained)

    def pretrained_weights(self) -> list[dict[str, Any]]:
        return [self.weights.to_json()]

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """`[B, L]` open_clip token rows (the tokenizer's padding) -> `[B, 1, D]` unit vectors."""
        return nn.functional.normalize(self.clip.encode_text(tokens).float(), dim=-1)[:, None]

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """CLIP4Clip's symmetric InfoNCE (its Eq. 9-11): cross-entropy over the batch's
        text->video and video->text cosine logits scaled by the learned `logit_scale`
        (exp, at most 100 as in CLIP), averaged over both directions."""
        video = self.encode_video(batch.video, batch.video_lengths)[:, 0]
        text = self.encode_text(batch.tokens, batch.token_lengths)[:, 0]
        scale = self.clip.logit_scale.exp().clamp(max=LOGIT_SCALE_MAX)
        logits = scale * text @ video.T
        target = torch.arange(len(logits), device=logits.device)
        t2v = nn.functional.cross_entropy(logits, target)
        v2t = nn.functional.cross_entropy(logits.T, target)
        return {"total": (t2v + v2t) / 2, "t2v": t2v, "v2t": v2t}


@register_method
class ClipZeroShot(_ClipMethod):
    """Zero-shot CLIP retrieval: mean of cached per-frame image embeddings vs. the text
    tower's sentence embedding, cosine similarity (as CLIP_benchmark's zero-shot retrieval,
    with one video = the mean of its frames). Nothing is trained; the run reads features of
    the backbone `clip:{model}` with weights `{pretrained}`."""

    name = "clip-zeroshot"
    paper = (
        "Radford et al., Learning Transferable Visual Models From Natural Language "
        "Supervision, ICML 2021 (open_clip weights); frames mean-pooled as CLIP4Clip meanP"
    )
    config_class = ClipZeroShotConfig
    zero_shot = True

    def __init__(self, config: ClipZeroShotConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.clip.visual = nn.Identity()  # its work is in the cached `clip:` features
        self.clip.requires_grad_(False)

    @classmethod
    def features_needed(cls, config: ClipZeroShotConfig) -> tuple[str, str]:
        return f"clip:{config.model}", config.pretrained

    def training_data(self, dataset: str) -> str:
        return f"zero-shot; {openclip.training_data(self.weights)}"

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """`[B, T, D]` cached frame embeddings -> `[B, 1, D]` unit mean (meanP)."""
        return nn.functional.normalize(openclip.frame_mean(video.float(), lengths), dim=-1)[:, None]


@register_method
class Clip4Clip(_ClipMethod):
    """CLIP4Clip meanP, fine-tuned: the image tower embeds every valid frame of the decoded
    clip, the mean is the video embedding; trained with the symmetric InfoNCE loss and a
    learned temperature from CLIP's initialisation."""

    name = "clip4clip"
    paper = (
        "Luo et al., CLIP4Clip: An Empirical Study of CLIP for End to End Video Clip "
        "Retrieval, Neurocomputing 2022 (meanP)"
    )
    config_class = Clip4ClipConfig
    visual_input = "frames"
    # The paper's rate for the CLIP parameters (1e-4 x its coef_lr 1e-3); meanP adds none.
    default_lr = 1e-7

    def __init__(self, config: Clip4ClipConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.prepare = openclip.ClipFrames(self.clip)
        if config.train_blocks >= 0:
            self._freeze_except_last(config.train_blocks)

    def _freeze_except_last(self, blocks: int) -> None:
        """Freeze everything but the last `blocks` blocks of both towers, their final norms
        and projections, and the temperature.

        Raises:
            WeightsError: the model's towers are not open_clip's own transformers (timm or
                Hugging Face towers: train them all with train_blocks=-1).
        """
        clip = self.clip
        towers = [getattr(clip.visual, "transformer", None), getattr(clip, "transformer", None)]
        if any(t is None or not hasattr(t, "resblocks") for t in towers):
            raise openclip.WeightsError(
                f"train_blocks: {self.config.model} has no open_clip transformer towers; "
                "use train_blocks=-1"
            )
        clip.requires_grad_(False)
        for tower in towers:
            for block in list(tower.resblocks)[-blocks:] if blocks else []:
                block.requires_grad_(True)
        heads = [getattr(clip.visual, "ln_post", None), getattr(clip.visual, "proj", None)]
        for part in (*heads, clip.ln_final, clip.text_projection, clip.logit_scale):
            if part is not None:  # a module or a parameter: both take requires_grad_
                part.requires_grad_(True)

    def training_data(self, dataset: str) -> str:
        return f"fine-tuned on {dataset} train; {openclip.training_data(self.weights)}"

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """`[B, T, 3, S, S]` frames (0..255) -> `[B, 1, D]`: every valid frame through the
        image tower in one batch, mean over the clip's frames (meanP), L2-normalised."""
        b, t = video.shape[:2]
        valid = torch.arange(t, device=video.device)[None, :] < lengths[:, None]
        frames = self.prepare(video[valid].float() / 255)
        embedded = self.clip.visual(frames).float()
        per_frame = embedded.new_zeros(b, t, embedded.shape[-1])
        per_frame[valid] = embedded
        return nn.functional.normalize(openclip.frame_mean(per_frame, lengths), dim=-1)[:, None]
