"""The interface every retrieval method implements (PVSE and each baseline).

The harness knows methods only through this interface and the registry, so a difference
in results is a difference in method, never in plumbing: every method is trained by the
same trainer on the same cached features and scored by the same evaluator.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn


@dataclass
class Batch:
    """One training batch of aligned (video, sentence) pairs.

    video: `[B, T, F]` per-frame CNN features (F = 2048 for ResNet-152), zero-padded (a
    method with `visual_input = "frames"`, or the fine-tune stage: `[B, T, 3, S, S]` uint8
    decoded frames);
    video_lengths: `[B]` valid frames; tokens: `[B, L]` word ids, 0 = padding;
    token_lengths: `[B]`; pair_ids: `[B]` index of each pair in the training split (the
    class label of instance-loss methods).
    """

    video: Tensor
    video_lengths: Tensor
    tokens: Tensor
    token_lengths: Tensor
    pair_ids: Tensor

    def to(self, device: torch.device | str) -> Batch:
        return Batch(**{f.name: getattr(self, f.name).to(device) for f in dataclasses.fields(self)})


@dataclass
class MethodContext:
    """What the harness knows about the data when it builds a method."""

    feature_dim: int
    vocab_size: int
    num_train_pairs: int
    word_vectors: Tensor | None = None  # [vocab_size, 300] initial word embeddings (GloVe)
    # "video": the visual input is a sequence of frame features; "image": an unordered set of
    # one image's local features (the 7 x 7 grid cells), which encoders average-pool.
    visual: str = "video"


class Method(nn.Module, ABC):
    """A video-text embedding method.

    Embeddings are `[B, K, D]`, K = 1 for single-embedding methods. Subclasses set `name`
    and `config_class` (a dataclass of the method's hyper-parameters with its paper's
    defaults), cite their `paper`, and are registered with
    `mrw.methods.registry.register_method` when their module is imported.

    `default_lr` is the method's own learning rate, used when a run neither sets `--lr` nor
    uses a stored tuning: its paper's Adam rate where the paper gives one, else PVSE's 2e-4.
    A linear map (DeViSE) and a biGRU (VSE++) do not share a good step size, so fair
    comparisons choose every method's rate by one protocol (`mrw-bench tune`); no default is
    chosen on any dataset's validation split.
    """

    name: ClassVar[str]
    paper: ClassVar[str] = ""  # the method's source: authors, title, venue and year
    config_class: ClassVar[type]
    default_lr: ClassVar[float] = 2e-4  # PVSE's (Song & Soleymani 2019, and its reference code)
    # True: nothing is trained; the runner evaluates the method as built (zero-shot rows).
    zero_shot: ClassVar[bool] = False
    # What a batch's `video` holds: "features" (the feature cache's `[B, T, F]`) or "frames"
    # (decoded uint8 frames `[B, T, 3, S, S]`, for methods that own an image tower).
    visual_input: ClassVar[str] = "features"

    def __init__(self, config: Any, context: MethodContext) -> None:
        super().__init__()
        self.config = config
        self.context = context

    @abstractmethod
    def encode_video(self, video: Tensor, lengths: Tensor) -> Tensor:
        """`[B, T, F]` features -> `[B, K, D]` embeddings."""

    @abstractmethod
    def encode_text(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        """`[B, L]` token ids -> `[B, K, D]` embeddings."""

    @abstractmethod
    def loss(self, batch: Batch) -> dict[str, Tensor]:
        """Named loss terms of one batch; the key "total" is what the trainer minimises."""

    def similarity(self, video_emb: Tensor, text_emb: Tensor) -> Tensor:
        """`[Nv, K, D]` x `[Nt, K, D]` -> `[Nv, Nt]` scores, higher = more similar.

        Default: the best cosine over the K x K embedding pairs (embeddings are assumed
        L2-normalised). The evaluator calls this on chunks, so it never sees the full
        gallery at once.
        """
        nv, k, d = video_emb.shape
        nt, kt, _ = text_emb.shape
        scores = video_emb.reshape(nv * k, d) @ text_emb.reshape(nt * kt, d).T
        # Two single-axis maxima, the video axis first (a maximum of K contiguous slabs, which
        # vectorises), are 1.5-2.7x faster than the text axis first (a reduction over the
        # innermost 5 values) and faster than amax(dim=(1, 3)).
        return scores.view(nv, k, nt, kt).amax(dim=1).amax(dim=2)

    @classmethod
    def text_tokenizer(cls, config: Any) -> Callable[[Sequence[str]], list[list[int]]] | None:
        """The method's own tokenizer (sentences -> token id lists, 0 = padding), used instead
        of the harness's training-split vocabulary; None (the default): the vocabulary."""
        return None

    @classmethod
    def fetch_weights(cls, config: Any) -> None:
        """Find (or download) pretrained weights the method loads, before the run decodes
        anything, so that missing weights fail at once. Default: none to fetch.

        Raises:
            MRWError: the weights are neither cached nor downloadable.
        """

    @classmethod
    def features_needed(cls, config: Any) -> tuple[str, str] | None:
        """(backbone, weights) the method's cached features must come from (a zero-shot
        model's own image tower), or None (the default): any."""
        return None

    def training_data(self, dataset: str) -> str:
        """The row's training-data declaration (run records, `compare`): what the weights
        were trained on. Default: the dataset's training split."""
        return f"trained on {dataset} train"

    def pretrained_weights(self) -> list[dict[str, Any]]:
        """Name, source and checksum of pretrained weights the method loads (none here)."""
        return []

    def init_check(self, batch: Batch) -> dict[str, Any] | None:
        """Diagnostics measured once before training, recorded in the run record (PVSE:
        whether PIE-Net's attention is alive, `pvse.diagnostics`); a "warning" entry, when
        not None, is logged by the runner. Default: none."""
        return None

    def on_epoch_start(self, epoch: int) -> None:
        """Hook for staged training (e.g. dual-path's instance-loss stage I then stage II)."""
