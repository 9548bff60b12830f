"""The one tokenizer (`mrw.core.text`) that cleaning, statistics and the vocabulary share."""

from __future__ import annotations

import unicodedata

import pytest

from mrw.core.text import normalize, tokenize, unescape_html, words
from mrw.curate import clean
from mrw.dataset import stats
from mrw.methods import vocab as bench_text
from mrw.methods.vocab import Vocabulary


def test_accented_words_are_single_tokens_in_either_unicode_form() -> None:
    composed = "café naïve Ærøskøbing"
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    assert tokenize(composed) == tokenize(decomposed) == ["café", "naïve", "ærøskøbing"]


def test_contractions_keep_their_apostrophe_also_typographic() -> None:
    assert tokenize("I don’t know, it's l'été") == [
        "i",
        "don't",
        "know",
        ",",
        "it's",
        "l'été",
    ]
    assert tokenize("'quoted'") == ["'", "quoted", "'"]


def test_emoji_and_emoticons_are_tokens_but_not_words() -> None:
    assert tokenize("mrw 😂😂 :)") == ["mrw", "😂", "😂", ":", ")"]
    assert words("mrw 😂😂 :)") == ["mrw"]


def test_html_entities_are_unescaped_even_twice() -> None:
    assert unescape_html("you &amp;amp; me") == "you & me"
    assert tokenize("you &amp;amp; me &lt;3") == ["you", "&", "me", "<", "3"]
    assert normalize("Tom &amp; JERRY") == "tom & jerry"


def test_digits_other_scripts_and_underscores() -> None:
    assert tokenize("R2D2 привет 東京 snake_case") == [
        "r2d2",
        "привет",
        "東京",
        "snake",
        "_",
        "case",
    ]


@pytest.mark.parametrize("sentence", ["café naïve", "MRW my cat doesn't care :)", "&amp; 😂"])
def test_cleaning_statistics_and_vocabulary_count_the_same_words(sentence: str) -> None:
    # min-words in `mrw clean`, the statistics and the vocabulary all go through mrw.core.text
    assert clean.words is stats.words is words
    assert bench_text.tokenize is tokenize
    vocab = Vocabulary.build([sentence])
    assert set(words(sentence)) <= set(vocab.itos)
