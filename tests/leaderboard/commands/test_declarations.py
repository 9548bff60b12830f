"""What `submit` and `baseline add` read from a harness run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboard.commands.declarations import from_run_folder
from leaderboard.errors import LeaderboardError
from leaderboard.server.client import card_field
from mrw.core.protocol import CARD_FILE, ProtocolCard, write_card_file
from mrw.core.provenance import file_sha256
from mrw.testing.harness_runs import COMMIT, harness_run
from mrw.testing.leaderboard_server import make_truth


@pytest.fixture
def run(tmp_path: Path) -> Path:
    truth = make_truth(tmp_path / "qrels", splits=("test",))
    return harness_run(tmp_path / "runs", truth / "test", 1, 0, 0.5)


def test_a_run_folder_declares_its_record_checkpoint_and_card(run: Path) -> None:
    card = ProtocolCard(dataset="toy", split="test", features="synthetic")
    write_card_file(run, card)
    fields, notes = from_run_folder(run)
    assert fields == {
        "training_data": "trained on toy train; frame features: synthetic",
        "code_commit": COMMIT,
        "checkpoint_sha256": file_sha256(run / "checkpoint.pt"),
        "protocol_card": card_field(card),
    }
    assert notes == []
    assert from_run_folder(run.parent) == ({}, [])  # not a run folder: nothing declared


def test_a_dirty_commit_is_not_declared_and_a_bad_card_is_one_error(run: Path) -> None:
    record = json.loads((run / "metrics.json").read_text())
    (run / "metrics.json").write_text(json.dumps({**record, "git_commit": COMMIT + "-dirty"}))
    fields, notes = from_run_folder(run)
    assert "code_commit" not in fields and "uncommitted changes" in notes[0]
    (run / "metrics.json").write_text("{}")
    fields, notes = from_run_folder(run)
    assert "training_data" not in fields and "nothing declared from it" in notes[0]
    bad = {"card": {"dataset": "toy", "relevance": "any"}, "card_hash": "0"}
    (run / CARD_FILE).write_text(json.dumps(bad))
    with pytest.raises(LeaderboardError, match="relevance must be one of"):
        from_run_folder(run)
