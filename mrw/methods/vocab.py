"""Sentences -> token ids, with no downloads: `mrw.core.text.tokenize`, a training-split vocabulary
and a loader for GloVe text files (`glove.840B.300d.txt` format).

The vocabulary is built from the training split only, so validation and test words the model
never saw map to `<unk>` exactly as they would for a new query.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.text import tokenize

log = logging.getLogger(__name__)

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
GLOVE_DIM = 300


class GloveError(MRWError):
    """The GloVe file is missing or not in the `word v1 ... vD` text format."""


@dataclass
class Vocabulary:
    """Token <-> id mapping; id 0 is padding and id 1 the unknown word."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.itos[:2] != [PAD, UNK]:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}")
        self.stoi = {word: i for i, word in enumerate(self.itos)}

    @classmethod
    def build(cls, sentences: Iterable[str], min_count: int = 1) -> Vocabulary:
        """Words seen at least `min_count` times, most frequent first (ties alphabetical)."""
        counts = Counter(token for sentence in sentences for token in tokenize(sentence))
        words = sorted(
            (w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w)
        )
        return cls([PAD, UNK, *words])

    def __len__(self) -> int:
        return len(self.itos)

    def encode(self, text: str) -> list[int]:
        """Token ids of `text`; never empty (an empty sentence becomes `[<unk>]`)."""
        ids = [self.stoi.get(token, UNK_ID) for token in tokenize(text)]
        return ids or [UNK_ID]

    def save(self, path: str | Path) -> None:
        """Write the id-to-token list to `path` as UTF-8 JSON, atomically."""
        with atomic_write(path, "w") as handle:
            json.dump(self.itos, handle, ensure_ascii=False)

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        """Read a vocabulary written by `save`."""
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class WordVectors:
    """Initial word embeddings for a vocabulary and how many came from the GloVe file."""

    vectors: Tensor  # [len(vocab), dim]
    hits: int
    source: str  # the GloVe path, or "random"

    @property
    def hit_rate(self) -> float:
        """Fraction of real words (not `<pad>`/`<unk>`) that GloVe covers."""
        words = self.vectors.shape[0] - 2
        return self.hits / words if words > 0 else 0.0


def _random_vectors(size: int, dim: int, seed: int) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    vectors = torch.randn(size, dim, generator=generator) * 0.1
    vectors[PAD_ID] = 0.0
    return vectors


def load_glove(
    path: str | Path, vocab: Vocabulary, dim: int = GLOVE_DIM, seed: int = 0
) -> WordVectors:
    """Vectors of `vocab`'s words from a GloVe text file; missing words keep random vectors.

    GloVe 840B is cased and some of its "words" contain spaces, so each line is split from
    the right (the last `dim` fields are the vector). A cased exact match wins over a
    lower-cased one (our tokens are lower-case, "The" and "the" are both in the file).
    """
    path = Path(path)
    if not path.is_file():
        raise GloveError(f"GloVe file not found: {path}")
    vectors = _random_vectors(len(vocab), dim, seed)
    exact: set[int] = set()
    folded: set[int] = set()
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line_no, line in enumerate(handle, 1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if len(parts) < dim + 1:
                if line.strip():
                    raise GloveError(f"{path}:{line_no}: expected a word and {dim} numbers")
                continue
            word = " ".join(parts[:-dim])
            index = vocab.stoi.get(word)
            is_exact = index is not None
            if index is None:
                index = vocab.stoi.get(word.lower())
            if index is None or index in exact or (not is_exact and index in folded):
                continue
            try:
                vectors[index] = torch.tensor([float(x) for x in parts[-dim:]])
            except ValueError:
                raise GloveError(f"{path}:{line_no}: non-numeric vector value") from None
            (exact if is_exact else folded).add(index)
    hits = len((exact | folded) - {PAD_ID, UNK_ID})
    vectors[PAD_ID] = 0.0
    return WordVectors(vectors, hits, str(path))


def word_vectors(
    vocab: Vocabulary, glove: str | Path | None, dim: int = GLOVE_DIM, seed: int = 0
) -> WordVectors:
    """GloVe vectors when a file is given, else random ones with a warning (results will be
    lower)."""
    if glove is None:
        log.warning(
            "no GloVe file given (--glove PATH to glove.840B.300d.txt): "
            "word embeddings start random"
        )
        return WordVectors(_random_vectors(len(vocab), dim, seed), 0, "random")
    found = load_glove(glove, vocab, dim, seed)
    log.info("GloVe %s covers %.1f%% of %d words", glove, 100 * found.hit_rate, len(vocab) - 2)
    return found
