"""A protocol card's round trip as a user meets it: harness run record -> `protocol.json`
sidecar -> `mrw-leaderboard score` -> the `protocol_card` field `mrw-leaderboard submit` sends
to a server, which accepts it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboard.board import truth_fingerprint
from leaderboard.cli import main as leaderboard_main
from mrw.bench.options import RunOptions
from mrw.bench.record import RunRecord
from mrw.bench.runner import run_method
from mrw.cli import main as mrw_main
from mrw.core.protocol import card_from_document, sidecar_card
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)


def test_card_round_trips_record_sidecar_score_and_submission(
    tmp_path: Path, toy_dataset_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    pytest.importorskip("starlette", reason="the server extra is not installed")
    from leaderboard.server.client import Client
    from mrw.testing.leaderboard_server import live_server

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = RunOptions(
        dataset=str(toy_dataset_dir), epochs=1, runs_dir=str(tmp_path / "runs"), progress=False
    )
    run_dir = run_method("tiny-test-method", {}, options).run_dir
    t2v, v2t = run_dir / "t2v.run.gz", run_dir / "v2t.run.gz"
    card = RunRecord.from_disk(run_dir).protocol_card
    assert card is not None and sidecar_card(t2v, v2t) == card

    assert mrw_main(["qrels", str(toy_dataset_dir), "--out", str(tmp_path / "qrels")]) == 0
    truth = tmp_path / "qrels" / "test"
    assert card.truth_sha256 == truth_fingerprint(truth)
    capsys.readouterr()
    assert leaderboard_main(["score", "--truth", str(truth), str(t2v), str(v2t), "--json"]) == 0
    assert card_from_document(json.loads(capsys.readouterr().out)["protocol_card"]) == card

    sent: list[dict[str, str]] = []
    request = Client._request

    def recording(self: Client, method: str, url: str, **kwargs: object) -> dict:
        if method == "POST":
            sent.append(dict(kwargs["data"]))  # type: ignore[arg-type]
        return request(self, method, url, **kwargs)

    monkeypatch.setattr(Client, "_request", recording)
    (tmp_path / "server").mkdir()
    with live_server(tmp_path / "server", tmp_path / "qrels") as server:
        token_file = tmp_path / "team.token"
        token_file.write_text(server.add_team("team") + "\n")
        argv = ["submit", "--server", server.url, "--token-file", str(token_file), "--json"]
        assert leaderboard_main([*argv, str(t2v), str(v2t)]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["status"] == "scored"
    (fields,) = sent
    assert card_from_document(json.loads(fields["protocol_card"])) == card
