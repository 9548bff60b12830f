"""Protocol cards: round trip, validation, hashing as the unit of comparability."""

from __future__ import annotations

import json

import pytest

from mrw.core.protocol import (
    ProtocolCard,
    ProtocolCardError,
    group_by_card,
    require_one_card,
)

SHA = "ab" * 32


def _card(**changes: object) -> ProtocolCard:
    base = ProtocolCard(
        dataset="tgif",
        revision="1",
        truth_sha256=SHA,
        split="test",
        protocol="tgif-paper",
        queries="one sentence per test video (t2v); every test video (v2t)",
        gallery="every test video (t2v); one sentence per test video (v2t)",
        depth=100,
        features="resnet152/imagenet",
    )
    return base.replace(**changes)


def test_round_trip_through_json_text() -> None:
    card = _card(features_sha256="cd" * 32, postprocess="dsl")
    again = ProtocolCard.from_json(json.loads(json.dumps(card.to_json())))
    assert again == card
    assert again.card_hash == card.card_hash
    assert again.directions == ("t2v", "v2t")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dataset", "mrw"),
        ("revision", "2"),
        ("truth_sha256", "cd" * 32),
        ("split", "val"),
        ("protocol", "tgif-all-sentences"),
        ("queries", "every test sentence"),
        ("gallery", "every test video"),
        ("relevance", "multi-positive"),
        ("directions", ("t2v",)),
        ("depth", None),
        ("features", "clip:ViT-B-32/openai"),
        ("features_sha256", "ef" * 32),
        ("postprocess", "qb-norm(bank=train,k=1,beta=20)"),
    ],
)
def test_every_field_changes_the_hash(field: str, value: object) -> None:
    card = _card()
    other = card.replace(**{field: value})
    assert other.card_hash != card.card_hash
    assert card.differing_fields(other) == [field]


def test_hash_ignores_key_order() -> None:
    card = _card()
    shuffled = dict(reversed(list(card.to_json().items())))
    assert ProtocolCard.from_json(shuffled).card_hash == card.card_hash


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "JSON object"),
        ({"split": "test"}, "dataset field is missing"),
        ({"dataset": "toy", "colour": "red"}, "unknown field(s) colour"),
        ({"dataset": "toy", "relevance": "some"}, "relevance must be one of"),
        ({"dataset": "toy", "directions": ["t2i"]}, "directions must be t2v and/or v2t"),
        ({"dataset": "toy", "directions": ["t2v", "t2v"]}, "each once"),
        ({"dataset": "toy", "depth": 1.5}, "depth must be an integer"),
        ({"dataset": "toy", "depth": float("nan")}, "depth must be an integer"),
        ({"dataset": "toy", "depth": float("inf")}, "depth must be an integer"),
        ({"dataset": "toy", "revision": 4}, "revision must be a string"),
        ({"dataset": "toy", "queries": 4}, "queries must be a string"),
        ({"dataset": "toy", "truth_sha256": list("ab" * 32)}, "truth_sha256 must be a hex"),
        ({"dataset": "toy", "version": True}, "version must be an integer"),
        ({"dataset": "toy", "version": "1"}, "version must be an integer"),
        ({"dataset": "toy", "directions": "t2v"}, "directions must be a list"),
        ({"dataset": "toy", "depth": 0}, "depth must be an integer >= 1"),
        ({"dataset": "toy", "depth": True}, "depth must be an integer >= 1"),
        ({"dataset": "toy", "truth_sha256": "xyz"}, "truth_sha256 must be a hex SHA-256"),
        ({"dataset": ""}, "dataset must be a non-empty string"),
        ({"dataset": "toy", "features": 3}, "features must be a non-empty string"),
        ({"dataset": "toy", "version": 99}, "version 99 is not 1"),
        ({"dataset": "toy", "depth": "10"}, "depth must be an integer"),
    ],
)
def test_bad_cards_are_refused_in_one_line(data: object, message: str) -> None:
    with pytest.raises(ProtocolCardError, match=None) as raised:
        ProtocolCard.from_json(data)  # type: ignore[arg-type]
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_require_one_card_names_the_differing_fields() -> None:
    card = _card()
    assert require_one_card({"a": card, "b": _card()}) == card
    with pytest.raises(ProtocolCardError) as raised:
        require_one_card({"a": card, "b": card.replace(depth=None, postprocess="dsl")})
    text = str(raised.value)
    assert "a and b" in text
    assert "depth (100 vs None)" in text
    assert "postprocess ('none' vs 'dsl')" in text
    with pytest.raises(ValueError):
        require_one_card({})


def test_group_by_card_keeps_first_seen_order() -> None:
    one, two = _card(), _card(relevance="multi-positive")
    groups = group_by_card([("r1", one), ("r2", two), ("r3", one)])
    assert list(groups.values()) == [["r1", "r3"], ["r2"]]
    assert list(groups) == [one.card_hash, two.card_hash]


def test_summary_names_the_card() -> None:
    card = _card()
    line = card.summary()
    assert line.startswith("tgif r1 test · tgif-paper · one-positive · t2v/v2t · depth 100")
    assert line.endswith(f"card {card.card_id}")


@pytest.mark.parametrize("kind", ["huge", "folder", "device"])
def test_card_files_that_are_not_cards_are_one_line(tmp_path, kind: str) -> None:
    from mrw.core.protocol import CARD_FILE, CARD_MAX_BYTES, read_card_file, sidecar_card

    path = tmp_path / CARD_FILE
    if kind == "huge":
        path.write_text(" " * (CARD_MAX_BYTES + 1))
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to("/dev/zero")
    for read in (lambda: read_card_file(path), lambda: sidecar_card(tmp_path / "t2v.run.gz")):
        with pytest.raises(ProtocolCardError) as raised:
            read()
        assert "not a protocol card" in str(raised.value) and "\n" not in str(raised.value)
