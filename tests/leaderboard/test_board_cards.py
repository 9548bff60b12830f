"""Protocol cards on the local board: `score` shows the sidecar's card, `add` stores it, old
boards still open, and `render` never ranks two cards in one table."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from leaderboard.board import list_submissions, truth_fingerprint
from leaderboard.cli import main
from leaderboard.render import NO_CARD, build_tables
from mrw.core.protocol import ProtocolCard, card_document, write_card_file
from mrw.testing.leaderboard_server import make_runs, make_truth


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    return make_truth(tmp_path / "toyset" / "qrels", splits=("test",)) / "test"


def _card(truth: Path, **changes: object) -> ProtocolCard:
    card = ProtocolCard(
        dataset="toyset",
        truth_sha256=truth_fingerprint(truth),
        protocol="full-split",
        queries="every test sentence (t2v); every test video (v2t)",
        gallery="every test video (t2v); every test sentence (v2t)",
        features="colour-edges/none",
    )
    return card.replace(**changes)


def _pair(tmp_path: Path, truth: Path, seed: int, card: ProtocolCard | None) -> list[str]:
    folder = tmp_path / f"run{seed}"
    folder.mkdir()
    t2v, v2t = make_runs(folder, truth, seed=seed)
    if card is not None:
        write_card_file(folder, card)
    return [str(t2v), str(v2t)]


def test_score_shows_the_sidecar_card_and_json_carries_it(tmp_path, truth, capsys) -> None:
    card = _card(truth)
    files = _pair(tmp_path, truth, 1, card)
    assert main(["score", "--truth", str(truth), *files]) == 0
    assert f"protocol card: {card.summary()}" in capsys.readouterr().out
    assert main(["score", "--truth", str(truth), *files, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["protocol_card"] == card_document(card)
    plain = _pair(tmp_path, truth, 2, None)
    assert main(["score", "--truth", str(truth), *plain, "--json"]) == 0
    assert "protocol_card" not in json.loads(capsys.readouterr().out)
    # --card names one for files without a sidecar
    card_file = write_card_file(tmp_path, card.replace(depth=5))
    assert main(["score", "--truth", str(truth), *plain, "--card", str(card_file)]) == 0
    assert "depth 5" in capsys.readouterr().out


def test_a_card_of_other_truth_is_not_recorded_and_a_bad_card_is_exit_2(tmp_path, truth, capsys):
    files = _pair(tmp_path, truth, 1, _card(truth, truth_sha256="0" * 64))
    board = tmp_path / "board.db"
    argv = ["add", "--board", str(board), "--name", "m", "--team", "t", "--truth", str(truth)]
    assert main([*argv, *files]) == 2
    err = capsys.readouterr().err
    assert "was measured on other truth" in err and len(err.strip().splitlines()) == 1
    assert not board.exists() or list_submissions(board) == []
    # score still scores, and says why it shows no card
    assert main(["score", "--truth", str(truth), *files, "--json"]) == 0
    captured = capsys.readouterr()
    assert "protocol_card" not in json.loads(captured.out)
    assert captured.err.startswith("warning: the protocol card") and "other truth" in captured.err
    bad = tmp_path / "bad.json"
    bad.write_text('{"card": {"dataset": "x"}, "card_hash": "00"}')
    assert main(["score", "--truth", str(truth), *files, "--card", str(bad)]) == 2
    assert "card_hash does not match" in capsys.readouterr().err


def test_add_stores_the_card_and_render_tables_each_card_apart(tmp_path, truth, capsys):
    board = tmp_path / "board.db"
    full, shallow = _card(truth), _card(truth, depth=5)
    for seed, card in ((1, full), (2, full), (3, shallow), (4, None)):
        files = _pair(tmp_path, truth, seed, card)
        argv = ["add", "--board", str(board), "--name", f"m{seed}", "--team", "t"]
        assert main([*argv, "--truth", str(truth), *files]) == 0
    assert "protocol card: none stated" in capsys.readouterr().out
    stored = {s.name: s.protocol_card for s in list_submissions(board)}
    assert stored == {"m1": full, "m2": full, "m3": shallow, "m4": None}
    tables = build_tables(list_submissions(board))
    assert sorted(sorted(s.name for s in t.rows) for t in tables) == [["m1", "m2"], ["m3"], ["m4"]]
    assert main(["render", "--board", str(board), "--out", str(tmp_path / "site")]) == 0
    markdown = (tmp_path / "site" / "leaderboard.md").read_text()
    assert markdown.count("## toyset / test") == 3
    assert "depth 5" in markdown and "full depth" in markdown and NO_CARD in markdown
    page = (tmp_path / "site" / "index.html").read_text()
    assert page.count('<p class="card">') == 3
    document = json.loads((tmp_path / "site" / "leaderboard.json").read_text())
    cards = [b["protocol_card"] for b in document["boards"]]
    assert sorted(map(json.dumps, cards)) == sorted(
        json.dumps(c) for c in (None, card_document(full), card_document(shallow))
    )


def test_a_board_written_before_cards_opens_and_gains_the_column_on_add(tmp_path, truth):
    board = tmp_path / "old.db"
    files = _pair(tmp_path, truth, 1, None)
    assert main(["add", "--board", str(board), "--name", "old", "--team", "t",
                 "--truth", str(truth), *files]) == 0  # fmt: skip
    with sqlite3.connect(board) as conn:  # as a board of the previous version looked
        conn.execute("ALTER TABLE submissions DROP COLUMN protocol_card")
    (old,) = list_submissions(board)
    assert old.protocol_card is None
    files = _pair(tmp_path, truth, 2, _card(truth))
    assert main(["add", "--board", str(board), "--name", "new", "--team", "t",
                 "--truth", str(truth), *files]) == 0  # fmt: skip
    cards = {s.name: s.protocol_card for s in list_submissions(board)}
    assert cards == {"old": None, "new": _card(truth)}
