"""VSE++ (Faghri et al., BMVC 2018): PVSE's global encoders without PIE-Net, max-violation hinge.

One embedding per instance (the biGRU's final states, L2-normalised), cosine similarity,
and the loss that made VSE++: for each positive pair only the hardest negative in the batch
counts, in both directions, `max_j [m - s(v, t) + s(v, t_j)]_+ + max_i [m - s(v, t) + s(v_i, t)]_+`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from baselines.common import global_encoders, hinge_ranking_loss
from mrw.bench.method import Batch, Method, MethodContext
from mrw.bench.registry import register_method


@dataclass
class VSEPPConfig:
    embed_dim: int = 1024
    word_dim: int = 300
    margin: float = 0.2  # Faghri et al.
    max_violation: bool = True  # False gives VSE0 (negatives summed), the paper's ablation
    finetune_words: bool = True


@register_method
class VSEPP(Method):
    name = "vsepp"
    config_class = VSEPPConfig

    def __init__(self, config: VSEPPConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.video_encoder, self.text_encoder = global_encoders(
            context, config.embed_dim, config.word_dim, config.finetune_words
        )

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        return F.normalize(self.video_encoder(video, lengths).global_, dim=-1).unsqueeze(1)

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return F.normalize(self.text_encoder(tokens, lengths).global_, dim=-1).unsqueeze(1)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        video = self.encode_video(batch.video, batch.video_lengths)[:, 0]
        text = self.encode_text(batch.tokens, batch.token_lengths)[:, 0]
        rank = hinge_ranking_loss(video @ text.T, self.config.margin, hardest=self.config.max_violation)
        return {"total": rank, "rank": rank}
