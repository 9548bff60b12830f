"""The toolkit's one tokenizer: cleaning, dataset statistics and the harness vocabulary all
count and look up words through `tokenize`, so `mrw clean --min-words`, the paper's
statistics (`mrw stats`) and the GloVe lookups agree on what a word is.

A token is a word (letters and digits of any script, with inner apostrophes: "don't",
"l'été"), or one punctuation mark or symbol (emoticons and emoji carry a reaction's
sentiment, so they stay). Text is HTML-unescaped (Reddit titles arrive escaped, sometimes
twice: `&amp;amp;`), NFC-normalised (so "café" typed with a combining accent is the same word
as the precomposed one), and lower-cased. Needs no model download (unlike NLTK punkt).
"""

from __future__ import annotations

import html
import re
import unicodedata

# A word: runs of letters/digits (`[^\W_]`, Unicode-aware), joined by inner apostrophes.
# Anything else that is not a space is a token of its own.
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*|[^\w\s]|_")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'", "\u2018": "'"})
_MAX_UNESCAPE_ROUNDS = 3  # Reddit escapes at most twice in practice


def unescape_html(text: str) -> str:
    """Undo HTML escaping until the text is stable (at most a few rounds).

    Args:
        text: possibly escaped text, e.g. `"you &amp;amp; me"`.

    Returns:
        The unescaped text, e.g. `"you & me"`.
    """
    for _ in range(_MAX_UNESCAPE_ROUNDS):
        unescaped = html.unescape(text)
        if unescaped == text:
            break
        text = unescaped
    return text


def normalize(text: str) -> str:
    """HTML-unescaped, NFC-normalised, typographic apostrophes made plain, lower-cased.

    Args:
        text: any string.

    Returns:
        The normalised string that `tokenize` splits.
    """
    return unicodedata.normalize("NFC", unescape_html(text)).translate(_APOSTROPHES).lower()


def tokenize(text: str) -> list[str]:
    """Word and punctuation tokens of `text`, lower-cased (see the module docstring).

    Args:
        text: a sentence, e.g. `"MRW my café doesn't open :)"`.

    Returns:
        Tokens in order, e.g. `["mrw", "my", "café", "doesn't", "open", ":", ")"]`; an empty
        list for blank text.
    """
    return _TOKEN.findall(normalize(text))


def words(text: str) -> list[str]:
    """The tokens of `text` that contain a letter or digit (punctuation is not a word).

    This is what `--min-words` and `mrw stats` count.
    """
    return [token for token in tokenize(text) if any(c.isalnum() for c in token)]
