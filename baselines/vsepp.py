"""VSE++ (Faghri et al., BMVC 2018): PVSE's global encoders without PIE-Net, max-violation hinge.

One embedding per instance (the biGRU's final states, L2-normalised), cosine similarity,
and the loss that made VSE++: for each positive pair only the hardest negative in the batch
counts, in both directions, `max_j [m - s(v, t) + s(v, t_j)]_+ + max_i [m - s(v, t) + s(v_i, t)]_+`.
"""

from __future__ import annotations

from dataclasses import dataclass

from baselines.common import GlobalEmbeddingMethod
from mrw.methods.registry import register_method


@dataclass
class VSEPPConfig:
    """Hyper-parameters of VSE++.

    Attributes:
        embed_dim: Joint embedding size D (1024, as in Faghri et al. and PVSE).
        word_dim: Word-vector size when the context has none (GloVe's 300 otherwise).
        margin: Hinge margin (0.2, Faghri et al.).
        max_violation: Hardest negative only (VSE++); False sums all negatives (VSE0).
        finetune_words: Train the word vectors along with the encoders.
    """

    embed_dim: int = 1024
    word_dim: int = 300
    margin: float = 0.2  # Faghri et al.
    max_violation: bool = True  # False gives VSE0 (negatives summed), the paper's ablation
    finetune_words: bool = True


@register_method
class VSEPP(GlobalEmbeddingMethod):
    """VSE++: PVSE's global biGRU encoders, cosine similarity, max-violation hinge loss."""

    name = "vsepp"
    paper = (
        'Faghri et al., "VSE++: Improving Visual-Semantic Embeddings with Hard Negatives", '
        "BMVC 2018"
    )
    config_class = VSEPPConfig
    default_lr = 2e-4  # Faghri et al.
