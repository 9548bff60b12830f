"""Tokenizer, training-split vocabulary and the GloVe loader (on a tiny generated file)."""

from __future__ import annotations

import logging

import pytest
import torch

from mrw.core.text import tokenize
from mrw.methods.vocab import (
    PAD_ID,
    UNK_ID,
    GloveError,
    Vocabulary,
    load_glove,
    word_vectors,
)


def test_tokenize_keeps_contractions_and_punctuation() -> None:
    assert tokenize("MRW my cat doesn't care :)") == [
        "mrw",
        "my",
        "cat",
        "doesn't",
        "care",
        ":",
        ")",
    ]
    assert tokenize("   ") == []


def test_vocabulary_counts_training_words_only() -> None:
    vocab = Vocabulary.build(["the cat", "the dog", "a cat"], min_count=2)
    assert vocab.itos == ["<pad>", "<unk>", "cat", "the"]
    assert vocab.encode("The cat saw a bird") == [3, 2, UNK_ID, UNK_ID, UNK_ID]
    assert vocab.encode("") == [UNK_ID]


def test_vocabulary_round_trips(tmp_path) -> None:
    vocab = Vocabulary.build(["héllo wörld", "hello"])
    vocab.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json").itos == vocab.itos


def test_glove_cased_match_wins_and_hit_rate(tmp_path) -> None:
    dim = 4
    path = tmp_path / "glove.txt"
    path.write_text(
        "The 9 9 9 9\n"  # cased variant first: used only until the exact match appears
        "the 1 2 3 4\n"
        "Cat 5 6 7 8\n"  # only a cased form exists
        "at . 0 0 0 1\n"  # glove 840B has tokens containing spaces
        "zebra 1 1 1 1\n",
        encoding="utf-8",
    )
    vocab = Vocabulary.build(["the cat", "the dog"])
    found = load_glove(path, vocab, dim=dim)
    assert found.vectors[vocab.stoi["the"]].tolist() == [1, 2, 3, 4]
    assert found.vectors[vocab.stoi["cat"]].tolist() == [5, 6, 7, 8]
    assert found.vectors[PAD_ID].abs().sum() == 0
    assert found.hits == 2 and found.hit_rate == pytest.approx(2 / 3)


def test_glove_errors_are_one_line(tmp_path) -> None:
    vocab = Vocabulary.build(["x"])
    with pytest.raises(GloveError, match="not found"):
        load_glove(tmp_path / "missing.txt", vocab)
    bad = tmp_path / "bad.txt"
    bad.write_text("x 1 2\n")
    with pytest.raises(GloveError, match="expected a word and 4 numbers"):
        load_glove(bad, vocab, dim=4)
    bad.write_text("x 1 2 oops 4\n")
    with pytest.raises(GloveError, match="non-numeric"):
        load_glove(bad, vocab, dim=4)


def test_no_glove_warns_and_is_seeded(caplog) -> None:
    vocab = Vocabulary.build(["a b c"])
    with caplog.at_level(logging.WARNING):
        first = word_vectors(vocab, None, dim=8, seed=3)
    assert "word embeddings start random" in caplog.text
    assert first.source == "random" and first.hit_rate == 0
    assert torch.equal(first.vectors, word_vectors(vocab, None, dim=8, seed=3).vectors)
