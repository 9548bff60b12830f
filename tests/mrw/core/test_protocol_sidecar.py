"""The card document every carrier stores (record, `protocol.json` sidecar, submission field)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrw.core.protocol import (
    CARD_FILE,
    ProtocolCard,
    ProtocolCardError,
    card_document,
    card_from_document,
    read_card_file,
    sidecar_card,
    write_card_file,
)

CARD = ProtocolCard(dataset="toy", revision="4", features="colour-edges/none")


def test_document_round_trip_and_its_hash_is_checked() -> None:
    document = json.loads(json.dumps(card_document(CARD)))
    assert card_from_document(document) == CARD
    edited = {**document, "card": {**document["card"], "split": "validation"}}
    with pytest.raises(ProtocolCardError, match="card_hash does not match"):
        card_from_document(edited)
    with pytest.raises(ProtocolCardError, match="expected"):
        card_from_document(CARD.to_json())  # a bare card is not a document


def test_sidecar_beside_the_run_files(tmp_path: Path) -> None:
    one, two = tmp_path / "a", tmp_path / "b"
    one.mkdir(), two.mkdir()
    assert sidecar_card(one / "t2v.run.gz", one / "v2t.run.gz") is None
    assert write_card_file(one, CARD) == one / CARD_FILE
    assert sidecar_card(one / "t2v.run.gz", one / "v2t.run.gz") == CARD
    write_card_file(two, CARD.replace(depth=10))
    with pytest.raises(ProtocolCardError, match=r"depth \(None vs 10\)"):
        sidecar_card(one / "t2v.run.gz", two / "v2t.run.gz")
    (two / CARD_FILE).write_text("{not json")
    with pytest.raises(ProtocolCardError, match=f"{CARD_FILE}: not a protocol card"):
        read_card_file(two / CARD_FILE)
