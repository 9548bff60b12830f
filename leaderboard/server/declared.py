"""What a submission declares besides its run files: artefact links, training data and the
protocol card, checked the same way for an upload (`POST /api/submissions` form fields) and a
host's baseline (`mrw-leaderboard baseline add`).

Every check ends in one line (`BoardError`; the API answers 400 with it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from leaderboard.errors import BoardError
from mrw.core.protocol import UNDECLARED, ProtocolCard, ProtocolCardError, card_from_document
from mrw.core.untrusted import UnsafeInputError, check_http_url, clean_text

CODE_URL_MAX = 500
TRAINING_DATA_MAX = 300
PROTOCOL_CARD_MAX = 16_000  # characters of the card's JSON
_HEX = re.compile(r"[0-9a-f]+")
FIELDS = ("code_url", "code_commit", "checkpoint_sha256", "training_data", "protocol_card")
# What the board shows when a submission declares no training data: pretraining on web-scale
# data may include the test media, so no declaration means an unknown overlap.
UNDECLARED_TRAINING = "undeclared (unknown overlap with the test media)"


def code_url(value: str) -> str | None:
    """An absolute http(s) URL of at most `CODE_URL_MAX` characters without credentials, or
    None for an empty value.

    Raises:
        BoardError: another scheme, no host, control characters, `user@`, or too long.
    """
    value = value.strip()
    if not value:
        return None
    if len(value) > CODE_URL_MAX or any(c.isspace() for c in value):
        raise BoardError(f"code_url must be one URL of at most {CODE_URL_MAX} characters")
    try:
        check_http_url(value, "code_url")
    except UnsafeInputError as exc:
        raise BoardError(str(exc)) from None
    if "@" in urlsplit(value).netloc:
        raise BoardError("code_url must not carry a user name or password")
    return value


def hex_digest(value: str, what: str, lengths: tuple[int, ...]) -> str | None:
    """A lower-case hex digest of one of `lengths` digits (a git commit: 40 or 64; a SHA-256:
    64), or None for an empty value.

    Raises:
        BoardError: not hex, or of another length.
    """
    value = value.strip().lower()
    if not value:
        return None
    if len(value) not in lengths or not _HEX.fullmatch(value):
        digits = " or ".join(str(n) for n in lengths)
        raise BoardError(f"{what} must be {digits} hex digits")
    return value


def protocol_card(
    text: str, dataset: str, split: str, truth_sha256: str | None
) -> tuple[ProtocolCard, bool]:
    """The submission's card: the one sent (its `card_document` as JSON text), with the
    truth's SHA-256 filled in when the sender left it null, or one derived from the truth
    when none was sent (dataset, split and truth SHA-256; protocol and post-processing
    `undeclared`), so every row belongs to exactly one card.

    Args:
        text: the `protocol_card` form field ("" when absent).
        dataset, split, truth_sha256: what the submission is scored against (the truth's
            SHA-256 None only for a row stored without one).

    Returns:
        (card, declared): `declared` is False for a derived card.

    Raises:
        BoardError: unreadable JSON, a card `ProtocolCard.from_json` refuses, or a card for
            another split or another truth.
    """
    if not text.strip():
        card = ProtocolCard(
            dataset=dataset,
            split=split,
            truth_sha256=truth_sha256,
            protocol=UNDECLARED,
            postprocess=UNDECLARED,
        )
        return card, False
    if len(text) > PROTOCOL_CARD_MAX:
        raise BoardError(f"protocol_card is over {PROTOCOL_CARD_MAX} characters")
    try:
        card = card_from_document(json.loads(text))
    except (json.JSONDecodeError, RecursionError):
        raise BoardError(
            'protocol_card is not JSON ({"card": {...}, "card_hash": "..."})'
        ) from None
    except ProtocolCardError as exc:
        raise BoardError(str(exc)[:300]) from None
    if card.split != split:
        raise BoardError(f"protocol_card is for split {card.split[:40]!r}, not {split!r}")
    if card.truth_sha256 is None:
        card = card.replace(truth_sha256=truth_sha256)
    elif card.truth_sha256 != truth_sha256:
        raise BoardError("protocol_card's truth_sha256 is not this split's ground truth")
    return card, True


def declared_fields(
    text: Mapping[str, str], dataset: str, split: str, truth_sha256: str
) -> dict[str, object]:
    """The board columns of `store.Upload` from a submission's text fields (`FIELDS`).

    Raises:
        BoardError: any field refused (see `code_url`, `hex_digest`, `protocol_card`), or
            training data over `TRAINING_DATA_MAX` characters.
    """
    try:
        training = clean_text(text.get("training_data", ""), "training_data", TRAINING_DATA_MAX)
    except UnsafeInputError as exc:
        raise BoardError(str(exc)) from None
    card, declared = protocol_card(text.get("protocol_card", ""), dataset, split, truth_sha256)
    return {
        "code_url": code_url(text.get("code_url", "")),
        "code_commit": hex_digest(text.get("code_commit", ""), "code_commit", (40, 64)),
        "checkpoint_sha256": hex_digest(
            text.get("checkpoint_sha256", ""), "checkpoint_sha256", (64,)
        ),
        "training_data": training or None,
        "protocol_json": json.dumps(card.to_json(), sort_keys=True) if declared else None,
        "protocol_hash": card.card_hash,
    }
