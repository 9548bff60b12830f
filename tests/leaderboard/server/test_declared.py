"""What a submission may declare: artefact links, training data, its protocol card."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.board import clean_fields
from leaderboard.errors import BoardError
from leaderboard.server.client import card_field
from leaderboard.server.declared import code_url, declared_fields, hex_digest, protocol_card
from mrw.core.protocol import ProtocolCard

TRUTH = "a" * 64


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("javascript:alert(1)", "must be an http.s.:// URL"),
        ("ftp://example.org/x", "must be an http.s.:// URL"),
        ("https://user:pw@example.org/x", "user name or password"),
        ("https://example.org/a b", "one URL"),
        ("https://example.org/\u202egpj.exe", "must be an http.s.:// URL"),
        ("https://example.org/" + "x" * 500, "at most 500"),
    ],
)
def test_code_urls_other_than_plain_http_are_refused(value: str, message: str) -> None:
    with pytest.raises(BoardError, match=message):
        code_url(value)


def test_accepted_values_are_normalised() -> None:
    assert code_url("  https://example.org/repo  ") == "https://example.org/repo"
    assert code_url("") is None and hex_digest(" ", "c", (40,)) is None
    assert hex_digest("ABCDEF" + "0" * 34, "code_commit", (40, 64)) == "abcdef" + "0" * 34
    with pytest.raises(BoardError, match="code_commit must be 40 or 64 hex digits"):
        hex_digest("xyz", "code_commit", (40, 64))


def test_a_card_is_checked_against_the_split_and_truth_it_is_scored_on() -> None:
    card = ProtocolCard(dataset="toy", split="test", features="resnet152")
    read, declared = protocol_card(card_field(card), "toy", "test", TRUTH)
    assert declared and read == card.replace(truth_sha256=TRUTH)  # the truth filled in
    derived, declared = protocol_card("", "toy", "test", TRUTH)
    assert not declared and derived.protocol == "undeclared" and derived.truth_sha256 == TRUTH
    with pytest.raises(BoardError, match="for split 'validation', not 'test'"):
        protocol_card(card_field(card.replace(split="validation")), "toy", "test", TRUTH)
    other = card.replace(truth_sha256="b" * 64)
    with pytest.raises(BoardError, match="not this split's ground truth"):
        protocol_card(card_field(other), "toy", "test", TRUTH)
    with pytest.raises(BoardError, match="unknown field"):
        bad = {"card": {"dataset": "toy", "colour": 1}, "card_hash": "0"}
        protocol_card(json.dumps(bad), "toy", "test", TRUTH)
    with pytest.raises(BoardError, match="expected"):  # a bare card, not its document
        protocol_card(json.dumps(card.to_json()), "toy", "test", TRUTH)


def test_declared_fields_fill_the_board_columns() -> None:
    fields = declared_fields({"training_data": " fine-tuned\non MRW train "}, "toy", "test", TRUTH)
    assert fields["training_data"] == "fine-tuned on MRW train"
    assert fields["protocol_json"] is None  # derived: not declared
    assert fields["protocol_hash"] == protocol_card("", "toy", "test", TRUTH)[0].card_hash
    with pytest.raises(BoardError, match="training_data is 301 characters"):
        declared_fields({"training_data": "x" * 301}, "toy", "test", TRUTH)


def test_bidi_and_format_characters_never_reach_the_board() -> None:
    hostile = "zero-shot\u202e\u2066 on\u200b web\x1b[2J data\u2069\u202c"
    fields = declared_fields({"training_data": hostile}, "toy", "test", TRUTH)
    assert fields["training_data"] == "zero-shot on web [2J data"
    shown = clean_fields(name=hostile, description=hostile, label_prefix="")
    assert shown == {"name": fields["training_data"], "description": fields["training_data"]}
