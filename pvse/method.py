"""The registered `pvse` method: two PIE-Nets over shared global encoders, trained with
L_mil + λ1 L_div + λ2 L_mmd.

`PVSEConfig` field names are the harness's option names (`--k`, `--no-global`,
`--no-residual`, `--no-mil`, `--div-weight`, `--mmd-weight`, `--margin`, `--embed-dim`,
`--hidden-dim`); the other fields (`max_violation`, `scale_weights_by_batch`,
`relative_weighting`, `mmd_gamma`, `mmd_kernel`, `mmd_at_k1`, `div_on`, `dropout`, `word_dim`,
`finetune_words`, `visual`) use the same convention.

`div_on` chooses what the diversity term L_div acts on: "residual" (the paper's Eq. 7 and the
reference code: the locally-guided features Υ) or "attention" (this toolkit's extension: the
attention maps α, Lin et al. 2017's structured self-attention penalty). Υ = sigmoid(fc(αΨ))
is all-positive, so any two heads' Υ have a cosine near 1 whatever they attend to and the
residual penalty sits near its maximum with little gradient; on α it separates the heads.

Ablations (paper Sec. 4): `k=0` uses the global feature alone (no PIE-Net); `no_global`
builds no GRUs and embeds z = LayerNorm(Υ); `no_residual` concatenates Φ and Υ instead of
adding them (2·D-d embeddings); `no_mil` concatenates the K embeddings of an instance into one
K·D-d embedding (`encode_*` returns `[B, 1, K·D]`) and trains with the plain triplet loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mrw.core.errors import MRWError
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.encoders import Encoded, ImageEncoder, TextEncoder, VideoEncoder
from mrw.methods.registry import register_method
from pvse.diagnostics import attention_activity, describe_inert
from pvse.losses import Kernel, combine_losses, diversity_loss, mil_loss, mil_mmd_losses
from pvse.pie_net import PIENet

DiversityTarget = Literal["residual", "attention"]


class PVSEConfigError(MRWError):
    pass


@dataclass
class PVSEConfig:
    """PVSE hyper-parameters; defaults follow the paper and its MRW training recipe."""

    k: int = 5  # embeddings per instance (the paper's MRW model; TGIF used 3, COCO 2)
    embed_dim: int = 1024  # D, the joint embedding space
    hidden_dim: int = 1024  # H, biGRU output (two directions of H/2); projected to D if different
    word_dim: int = 300  # GloVe 840B
    margin: float = 0.1
    max_violation: bool = True  # hardest negative (VSE++); False sums them (the paper's L_mil)
    div_weight: float = 0.1  # λ1
    mmd_weight: float = 0.01  # λ2
    div_on: DiversityTarget = "residual"  # Υ (paper, reference); "attention": α (extension)
    # With summed negatives (max_violation=False), λ1 and λ2 times the batch size B: that L_mil
    # is B times the reference's ranking loss (a mean over the B² pairs), so this keeps the
    # paper's relative weights. The hardest negative needs nothing: both average over anchors.
    scale_weights_by_batch: bool = True
    # L_mmd at K <= 1 too (the paper's objective); False skips it there, as the reference
    # code does (it adds MMD and diversity only when num_embeds > 1).
    mmd_at_k1: bool = True
    relative_weighting: bool = False  # λ as a fraction of L_mil (ratio detached)
    mmd_gamma: float = 0.5
    mmd_kernel: Kernel = (
        "squared"  # the paper's exp(-γ‖x-y‖²); "distance": reference code's exp(-γ‖x-y‖)
    )
    dropout: float = 0.0
    finetune_words: bool = True  # train the word embeddings (GloVe-initialised when given)
    # frames -> biGRU, or a 7x7 grid -> fc of its average; "auto": the dataset's (context.visual)
    visual: Literal["auto", "video", "image"] = "auto"
    no_global: bool = False
    no_residual: bool = False
    no_mil: bool = False

    def __post_init__(self) -> None:
        problems = []
        if self.k < 0:
            problems.append(f"k must be >= 0, got {self.k}")
        if self.k == 0 and (self.no_global or self.no_residual or self.no_mil):
            problems.append(
                "k=0 (global feature only) cannot be combined with no_global, no_residual or no_mil"
            )
        if self.no_global and self.no_residual:
            problems.append(
                "no_global and no_residual both remove the global feature's fusion; pick one"
            )
        if self.embed_dim < 1 or self.hidden_dim < 2 or self.hidden_dim % 2:
            problems.append("embed_dim must be >= 1 and hidden_dim even and >= 2")
        if self.mmd_kernel not in ("squared", "distance"):
            problems.append(f"mmd_kernel must be 'squared' or 'distance', got {self.mmd_kernel!r}")
        if self.div_on not in ("residual", "attention"):
            problems.append(f"div_on must be 'residual' or 'attention', got {self.div_on!r}")
        if self.visual not in ("auto", "video", "image"):
            problems.append(f"visual must be 'auto', 'video' or 'image', got {self.visual!r}")
        if (
            min(self.div_weight, self.mmd_weight, self.margin, self.dropout) < 0
            or self.dropout >= 1
        ):
            problems.append("weights, margin and dropout must be >= 0 (dropout < 1)")
        if problems:
            raise PVSEConfigError("pvse: " + "; ".join(problems))


class PVSEHead(nn.Module):
    """One modality's embedding: Φ projected to D, then PIE-Net (or Φ alone when k=0)."""

    def __init__(self, config: PVSEConfig, global_dim: int, local_dim: int) -> None:
        super().__init__()
        self.no_mil = config.no_mil
        self.div_on = config.div_on
        self.project = None
        if not config.no_global and global_dim != config.embed_dim:
            self.project = nn.Linear(global_dim, config.embed_dim)
        self.pie_net = None
        if config.k > 0:
            fusion = "local" if config.no_global else "concat" if config.no_residual else "residual"
            self.pie_net = PIENet(config.k, local_dim, config.embed_dim, fusion, config.dropout)

    def forward(self, encoded: Encoded) -> tuple[Tensor, Tensor | None]:
        """-> (embeddings `[B, K, D']`, what L_div acts on or None without PIE-Net: the
        residuals Υ `[B, K, D]` or, with `div_on="attention"`, the attention maps α `[B, K, T]`)."""
        global_ = encoded.global_
        if global_ is not None and self.project is not None:
            global_ = self.project(global_)
        if self.pie_net is None:
            return F.normalize(global_, dim=-1)[:, None, :], None
        out = self.pie_net(global_, encoded.local, encoded.mask)
        embeddings = out.embeddings
        if self.no_mil:
            embeddings = F.normalize(embeddings.flatten(1), dim=-1)[:, None, :]
        return embeddings, out.attention if self.div_on == "attention" else out.residuals


@register_method
class PVSE(Method):
    """Polysemous Visual-Semantic Embedding (Song & Soleymani, CVPR 2019)."""

    name = "pvse"
    paper = (
        'Song & Soleymani, "Polysemous Visual-Semantic Embedding for Cross-Modal Retrieval", '
        "CVPR 2019"
    )
    config_class = PVSEConfig

    def __init__(self, config: PVSEConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        with_global = not config.no_global
        visual = context.visual if config.visual == "auto" else config.visual
        visual_class = VideoEncoder if visual == "video" else ImageEncoder
        self.visual_encoder = visual_class(
            context.feature_dim, config.hidden_dim, with_global, config.dropout
        )
        self.text_encoder = TextEncoder(
            context.vocab_size,
            config.word_dim,
            config.hidden_dim,
            context.word_vectors,
            config.finetune_words,
            with_global,
            config.dropout,
        )
        self.visual_head = PVSEHead(config, config.hidden_dim, context.feature_dim)
        self.text_head = PVSEHead(config, config.hidden_dim, config.word_dim)

    def _embed_video(self, video: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.visual_head(self.visual_encoder(video, lengths))

    def _embed_text(self, tokens: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor | None]:
        return self.text_head(self.text_encoder(tokens, lengths))

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        return self._embed_video(video, lengths)[0]

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self._embed_text(tokens, lengths)[0]

    @torch.no_grad()
    def init_check(self, batch: Batch) -> dict[str, Any] | None:
        """Per modality, `pvse.diagnostics.attention_activity` of PIE-Net's attention on
        `batch`, and a "warning" when the video side is inert (`describe_inert`); None
        without PIE-Net (k=0). Runs in eval mode; restores the mode after."""
        if self.config.k == 0:
            return None
        was_training = self.training
        self.eval()
        sides = {
            "video": (self.visual_encoder, self.visual_head, batch.video, batch.video_lengths),
            "text": (self.text_encoder, self.text_head, batch.tokens, batch.token_lengths),
        }
        out: dict[str, Any] = {}
        for side, (encoder, head, inputs, lengths) in sides.items():
            encoded = encoder(inputs, lengths)
            _, attention = head.pie_net.attention(encoded.local, encoded.mask)
            out[side] = attention_activity(attention, encoded.mask)
        self.train(was_training)
        return {**out, "warning": describe_inert(out)}

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        video, video_heads = self._embed_video(batch.video, batch.video_lengths)
        text, text_heads = self._embed_text(batch.tokens, batch.token_lengths)
        # The losses run in fp32 even under AMP: the MMD's ‖x‖² + ‖y‖² - 2xyᵀ cancels
        # catastrophically in half precision, and the hinge margins are small.
        with torch.autocast(video.device.type, enabled=False):
            return loss_terms(
                self.config,
                *(t if t is None else t.float() for t in (video, text, video_heads, text_heads)),
            )


def loss_weights(config: PVSEConfig, batch_size: int) -> tuple[float, float]:
    """(λ1, λ2) as applied to L_div and L_mmd in a batch of `batch_size` pairs.

    The reference code (yalesong/pvse `loss.py`) averages its ranking loss: over the anchors'
    hardest negatives with `--max_violation`, over all B² pairs otherwise. `mil_loss` sums
    over negatives and averages over anchors, so with the hardest negative it equals the
    reference's and λ stays as given, and with summed negatives it is B times the
    reference's and `scale_weights_by_batch` multiplies λ by B to keep the paper's balance
    (the whole objective is then B times the reference's). Never scaled under
    `relative_weighting`, where λ is a fraction of L_mil.
    """
    scaled = (
        config.scale_weights_by_batch and not config.max_violation and not config.relative_weighting
    )
    scale = batch_size if scaled else 1
    return config.div_weight * scale, config.mmd_weight * scale


def loss_terms(
    config: PVSEConfig,
    video: Tensor,
    text: Tensor,
    video_heads: Tensor | None,
    text_heads: Tensor | None,
) -> dict[str, Tensor]:
    """PVSE's objective L_mil + λ1 L_div + λ2 L_mmd (paper Eq. 4-8) on one batch.

    Args:
        config: the loss options (margin, max_violation, λs and their scaling, MMD kernel).
        video: `[B, K, D]` L2-normalised video embeddings (`[B, 1, K·D]` under `no_mil`).
        text: `[B, K, D]` sentence embeddings, row i paired with video i.
        video_heads, text_heads: `[B, K, N]` what L_div acts on (Υ or α), None when k = 0.

    Returns:
        Scalars by name: "mil", "div" (only with λ1 > 0 and K > 1: identically 0 for one
        head), "mmd" (with λ2 > 0, and K > 1 unless `mmd_at_k1`), and "total".
    """
    div_weight, mmd_weight = loss_weights(config, video.size(0))
    mmd = None
    if config.mmd_weight > 0 and (config.k > 1 or config.mmd_at_k1):
        mil, mmd = mil_mmd_losses(
            video, text, config.margin, config.max_violation, config.mmd_gamma, config.mmd_kernel
        )
    else:
        mil = mil_loss(video, text, config.margin, config.max_violation)
    terms = {"mil": mil}
    weighted: dict[str, tuple[float, Tensor]] = {}
    if config.div_weight > 0 and config.k > 1:
        normalise = config.div_on == "residual"
        terms["div"] = diversity_loss(video_heads, normalise) + diversity_loss(
            text_heads, normalise
        )
        weighted["div"] = (div_weight, terms["div"])
    if mmd is not None:
        terms["mmd"] = mmd
        weighted["mmd"] = (mmd_weight, mmd)
    terms["total"] = combine_losses(mil, weighted, config.relative_weighting)
    return terms
