"""The toy set's sentences read as English: `an` before a vowel ("an olive pattern")."""

from __future__ import annotations

import re

from mrw.toy.video import ToyConfig, toy_scenes


def test_the_article_fits_the_next_word() -> None:
    sentences = [s for _, s, _ in toy_scenes(ToyConfig(seed=0), "train", 3000)]
    assert any(" an olive pattern" in s for s in sentences)  # the case the article is for
    wrong = [s for s in sentences if re.search(r"\ba [aeiou]|\ban [^aeiou ]", s)]
    assert wrong == []
