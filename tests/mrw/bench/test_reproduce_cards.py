"""`reproduce --dry-run` names each paper table's protocol card; `list` the standard protocols."""

from __future__ import annotations

import json

import pytest

from mrw.bench.cli import main

TABLES = {
    "table2": ["coco-5k", "coco-1k-x5"],
    "table3": ["tgif-paper"],
    "table4": ["full-split"],
}


@pytest.mark.parametrize("target", sorted(TABLES))
def test_dry_run_prints_each_tables_card(target: str, capsys) -> None:
    assert main(["reproduce", target, "--dry-run"]) == 0
    cards = [
        line.strip() for line in capsys.readouterr().out.splitlines() if "protocol card:" in line
    ]
    assert [line.split(" · ")[1] for line in cards] == TABLES[target]
    assert main(["reproduce", target, "--dry-run", "--json"]) == 0
    (plan,) = json.loads(capsys.readouterr().out)["plans"]
    protocols = [doc["card"]["protocol"] for doc in plan["protocol_cards"]]
    assert protocols == TABLES[target] and plan["rows"]


def test_tgif_all_sentences_is_another_card_and_json_needs_dry_run(capsys) -> None:
    assert main(["reproduce", "table3", "--dry-run", "--tgif-protocol", "all-sentences"]) == 0
    assert "· tgif-all-sentences ·" in capsys.readouterr().out
    assert main(["reproduce", "table3", "--json"]) == 2
    assert "add --dry-run" in capsys.readouterr().err


def test_list_shows_each_datasets_standard_protocols(capsys, monkeypatch) -> None:
    monkeypatch.setenv("COLUMNS", "240")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "tgif-paper, tgif-all-sentences" in out and "coco-1k-x5, coco-5k" in out
