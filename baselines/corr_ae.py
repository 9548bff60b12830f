"""Correspondence autoencoder, Corr-AE (Feng et al., ACM MM 2014).

One single-hidden-layer autoencoder per modality; the hidden codes of a true pair are tied
by a correspondence loss. The objective is the paper's
`(1 - alpha) * (L_video + L_text) + alpha * L_corr`, with squared-error reconstructions and
`L_corr = ||code_v - code_t||^2`; retrieval ranks by the (negative squared) distance between
codes. Inputs: the frame-mean visual feature, and for text the mean word vector (Feng et al.
used bag-of-words; the mean vector gives every method here the same token input), each
z-scored (`standardizer`) so that both reconstruction errors are on one scale.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from baselines.common import masked_mean, standardizer, word_embedding
from mrw.methods.base import Batch, Method, MethodContext
from mrw.methods.registry import register_method


@dataclass
class CorrAEConfig:
    """Hyper-parameters of Corr-AE.

    Attributes:
        code_dim: Size of each autoencoder's hidden code, the retrieval embedding; 1024, the
            embedding size of the other methods here (PVSE's D), not a value from the paper.
        alpha: Weight of the correspondence term in `(1 - alpha) * recon + alpha * corr`;
            the paper tunes it per dataset, so the default weighs both terms equally and
            `mrw-bench tune` chooses it (`mrw.bench.tune.FIELD_GRIDS`).
        word_dim: Size of the word vectors when the context has none (random table); with
            GloVe vectors the table takes their size (300).
        standardize: Z-score both inputs with running training statistics (`standardizer`).
    """

    code_dim: int = 1024
    # Weight of the correspondence term: no value from any dataset's validation split (the
    # paper tunes it per dataset; so does `mrw-bench tune`).
    alpha: float = 0.5
    word_dim: int = 300
    standardize: bool = True  # z-score both inputs (running training statistics)


class _Autoencoder(nn.Module):
    """x -> sigmoid(W x + b) code -> linear reconstruction, as in the paper's basic Corr-AE."""

    def __init__(self, in_dim: int, code_dim: int) -> None:
        super().__init__()
        self.encoder = nn.Linear(in_dim, code_dim)
        self.decoder = nn.Linear(code_dim, in_dim)

    def encode(self, x: Tensor) -> Tensor:
        return torch.sigmoid(self.encoder(x))

    def reconstruction_error(self, x: Tensor, code: Tensor) -> Tensor:
        return (self.decoder(code) - x).pow(2).sum(-1).mean()


@register_method
class CorrAE(Method):
    """Corr-AE: two autoencoders whose codes are tied by a correspondence loss (module doc)."""

    name = "corr_ae"
    paper = 'Feng et al., "Cross-modal Retrieval with Correspondence Autoencoder", ACM MM 2014'
    config_class = CorrAEConfig
    # No Adam rate in the paper: the harness's default (PVSE's 2e-4); `mrw-bench tune` chooses.

    def __init__(self, config: CorrAEConfig, context: MethodContext) -> None:
        super().__init__(config, context)
        self.words = word_embedding(context, config.word_dim, trainable=False)
        self.video_ae = _Autoencoder(context.feature_dim, config.code_dim)
        self.text_ae = _Autoencoder(self.words.embedding_dim, config.code_dim)
        self.standardize_video = standardizer(context.feature_dim, config.standardize)
        self.standardize_text = standardizer(self.words.embedding_dim, config.standardize)

    def _video_input(self, video: Tensor, lengths: Tensor) -> Tensor:
        return self.standardize_video(masked_mean(video, lengths))

    def _text_input(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        return self.standardize_text(masked_mean(self.words(tokens), lengths))

    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """Sigmoid code of the standardised frame-mean feature.

        Args:
            video: `[B, T, F]` float frame features, zero-padded.
            lengths: `[B]` number of valid frames.

        Returns:
            `[B, 1, code_dim]` codes in (0, 1), not normalised.
        """
        return self.video_ae.encode(self._video_input(video, lengths)).unsqueeze(1)

    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """Sigmoid code of the standardised mean word vector.

        Args:
            tokens: `[B, L]` int64 word ids, 0 = padding.
            lengths: `[B]` number of valid tokens.

        Returns:
            `[B, 1, code_dim]` codes in (0, 1), not normalised.
        """
        return self.text_ae.encode(self._text_input(tokens, lengths)).unsqueeze(1)

    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Feng et al.'s objective `(1 - alpha) * (L_video + L_text) + alpha * L_corr`.

        Each term is a squared Euclidean error summed over dimensions and averaged over the
        batch (no negatives are used).

        Args:
            batch: Aligned (video, sentence) pairs.

        Returns:
            Scalar tensors "total", "recon_video", "recon_text" and "correspondence".
        """
        x_v = self._video_input(batch.video, batch.video_lengths)
        x_t = self._text_input(batch.tokens, batch.token_lengths)
        code_v, code_t = self.video_ae.encode(x_v), self.text_ae.encode(x_t)
        recon_v = self.video_ae.reconstruction_error(x_v, code_v)
        recon_t = self.text_ae.reconstruction_error(x_t, code_t)
        corr = (code_v - code_t).pow(2).sum(-1).mean()
        alpha = self.config.alpha
        total = (1 - alpha) * (recon_v + recon_t) + alpha * corr
        return {
            "total": total,
            "recon_video": recon_v,
            "recon_text": recon_t,
            "correspondence": corr,
        }

    def similarity(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """Negative squared Euclidean distance between codes (K = 1)."""
        return -torch.cdist(video_emb[:, 0], text_emb[:, 0]).pow(2)
