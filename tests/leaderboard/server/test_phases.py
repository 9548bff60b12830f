"""A board walks dev -> test -> reveal -> closed on a live server (loopback), driven by the
host's `phase` command and by teams over HTTP and the CLI: per-query detail to the owner in
the dev phase only, public metrics only during the test phase, select-N honoured, a private
ranking that differs from the public one in a constructed case, and no test query id (so no
private-part id and no truth pair) in any answer, page or error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.parse import parse_run
from leaderboard.runfile import write_run
from leaderboard.score import first_relevant_ranks, load_truth, score_submission
from leaderboard.server.phases import private_mask
from leaderboard.server.scoring import score_stored
from leaderboard.server.truth import Split
from mrw.testing.leaderboard_server import (
    CAPTIONS,
    N_VIDEOS,
    LiveServer,
    live_server,
    make_runs,
    make_truth,
)

pytestmark = pytest.mark.slow

TOKEN = "MRW_LEADERBOARD_TOKEN"
SEED = 7
# Every id of the hidden test split starts so (`make_truth`): none may reach a team.
TEST_IDS = ("test-s", "test-v")


def _constructed_runs(
    folder: Path, truth: Path, seed: int, good_on_private: bool
) -> tuple[Path, Path]:
    """Runs that rank each query's relevant documents first on one part of the test queries
    and last on the other (full depth, so the hidden-split rule is met)."""
    qrels = load_truth(truth / "test")
    sentences = [f"test-s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
    videos = [f"test-v{v}" for v in range(N_VIDEOS)]
    relevant = np.repeat(np.eye(N_VIDEOS), CAPTIONS, axis=0)  # sentences x videos
    rng = np.random.default_rng(seed)
    paths = []
    for direction, queries, docs, matrix in (
        ("t2v", sentences, videos, relevant),
        ("v2t", videos, sentences, relevant.T),
    ):
        private = private_mask(qrels[direction], SEED, 0.5, direction)
        good = private if good_on_private else ~private
        scores = np.where(good[:, None], matrix, -matrix) + 0.01 * rng.random(matrix.shape)
        path = folder / f"{direction}-constructed-{seed}.run"
        write_run(path, queries, docs, scores, f"c{seed}")
        paths.append(path)
    return paths[0], paths[1]


def _accepted(response) -> int:
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _boards(server: LiveServer) -> dict[str, list[int]]:
    """Board label -> submission ids, best first."""
    with server.client() as http:
        boards = http.get("/api/board").json()["boards"]
    return {b["split"]: [row["id"] for row in b["submissions"]] for b in boards}


def _everything_a_team_sees(server: LiveServer, tokens: dict[str, list[int]]) -> str:
    """Every answer a team can get: pages, board, info, its statuses, detail, selection, and
    the errors for another team's ids and for a bad selection."""
    seen = []
    every_id = [i for ids in tokens.values() for i in ids]
    with server.client() as http:
        for path in ("/", "/api/board", "/api/info", *[f"/submissions/{i}" for i in every_id]):
            seen.append(http.get(path).text)
    for token in tokens:
        with server.client(token) as http:
            for path in ("/api/team", "/api/selection"):
                seen.append(http.get(path).text)
            for i in every_id:
                seen.append(http.get(f"/api/submissions/{i}").text)
                seen.append(http.get(f"/api/submissions/{i}/detail").text)
            seen.append(http.put("/api/selection", json={"ids": every_id}).text)
    return "\n".join(seen)


def test_a_board_walks_dev_test_reveal_closed(tmp_path: Path) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    with live_server(tmp_path, truth, "--per-day", "50") as server:
        host = ["--board", str(server.board)]
        alpha, beta = server.add_team("alpha"), server.add_team("beta")
        assert server.cli("phase", "open", "dev", *host).returncode == 0

        # dev: the validation split, per-query detail to the owner only.
        t2v, v2t = make_runs(tmp_path, truth / "validation", seed=1)
        dev = _accepted(server.post(alpha, t2v, v2t, name="dev run"))
        status = server.wait(alpha, dev)
        assert status["status"] == "scored" and status["phase"] == "dev"
        assert status["split"] == "validation"
        with server.client(alpha) as http:
            detail = http.get(f"/api/submissions/{dev}/detail").json()
        qrels = load_truth(truth / "validation")
        for direction, path in (("t2v", t2v), ("v2t", v2t)):
            ranks = first_relevant_ranks(parse_run(path, qrels[direction]), qrels[direction])
            got = detail["details"][direction]["first_relevant_rank"]
            assert list(got.values()) == ranks.ranks.tolist()
        with server.client(beta) as http:
            refused = http.get(f"/api/submissions/{dev}/detail")
        assert refused.status_code == 404 and "validation-" not in refused.text
        shown = server.cli("status", "--server", server.url, "--detail", str(dev),
                           env={TOKEN: alpha})  # fmt: skip
        assert shown.returncode == 0, shown.stderr
        assert "first relevant rank" in shown.stdout and "validation-s0_0" in shown.stdout
        shown = server.cli("status", "--server", server.url, "--detail", "--json", str(dev),
                           env={TOKEN: alpha})  # fmt: skip
        assert json.loads(shown.stdout)["details"] == detail["details"]
        shown = server.cli("status", "--server", server.url, "--detail", str(dev),
                           env={TOKEN: beta})  # fmt: skip
        assert shown.returncode == 2 and "server refused (404)" in shown.stderr
        t2v, v2t = make_runs(tmp_path, truth / "test", seed=2)
        wrong = server.post(alpha, t2v, v2t, split="test")
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "the open phase (dev) scores split 'validation', not 'test'"

        # test: the hidden split, public part only.
        opened = server.cli("phase", "open", "test", *host, "--seed", str(SEED), "--select", "1")
        assert opened.returncode == 0 and "select 1" in opened.stdout, opened.stderr
        a_public = _accepted(server.post(alpha, *_constructed_runs(tmp_path, truth, 1, False)))
        a_noisy = _accepted(server.post(alpha, *make_runs(tmp_path, truth / "test", seed=3)))
        b_private = _accepted(server.post(beta, *_constructed_runs(tmp_path, truth, 2, True)))
        statuses = {}
        for token, submission_id in ((alpha, a_public), (alpha, a_noisy), (beta, b_private)):
            statuses[submission_id] = server.wait(token, submission_id)
            assert statuses[submission_id]["status"] == "scored", statuses[submission_id]
            assert set(statuses[submission_id]) & {"private_metrics", "details"} == set()
        test_qrels = load_truth(truth / "test")
        masks = {d: private_mask(test_qrels[d], SEED, 0.5, d) for d in ("t2v", "v2t")}
        folder = server.folder / "board.db.uploads" / str(a_public)
        expected = score_stored(folder, Split("test", test_qrels, "", public=False), 1 << 30, masks)
        assert statuses[a_public]["metrics"] == json.loads(
            json.dumps(expected.public_metrics.to_json())
        )
        assert statuses[a_public]["metrics"]["rsum"] == 600.0  # perfect on the public part
        assert statuses[b_private]["metrics"]["rsum"] == 0.0  # last on the public part
        with server.client(alpha) as http:
            refused = http.get(f"/api/submissions/{a_public}/detail")
        assert refused.status_code == 403
        assert refused.json()["error"].startswith("per-query detail is given for dev-phase")
        assert _boards(server)["test (public)"] == [a_public, a_noisy, b_private]
        assert "test (private)" not in _boards(server) and "test" not in _boards(server)

        # select-N: at most 1, the team's own scored test-phase submissions only.
        with server.client(alpha) as http:
            too_many = http.put("/api/selection", json={"ids": [a_public, a_noisy]})
            assert too_many.status_code == 409 and "at most 1" in too_many.text
            assert http.put("/api/selection", json={"ids": [b_private]}).status_code == 409
            assert http.put("/api/selection", json={"ids": "x"}).status_code == 400
        selected = server.cli("select", "--server", server.url, str(a_noisy), env={TOKEN: alpha})
        assert selected.returncode == 0 and f"selected: #{a_noisy} (at most 1)" in selected.stdout
        before = _everything_a_team_sees(server, {alpha: [dev, a_public], beta: [b_private]})
        assert not any(i in before for i in TEST_IDS)
        assert "private_metrics" not in before and "all_queries_metrics" not in before

        # reveal: beta selected nothing, so its best public submission is ranked privately.
        revealed = server.cli("phase", "reveal", *host)
        assert revealed.returncode == 0, revealed.stderr
        assert f"beta\t#{b_private}\tbest public (none selected)" in revealed.stdout
        assert f"alpha\t#{a_noisy}\tselected" in revealed.stdout
        boards = _boards(server)
        assert boards["test (public)"] == [a_public, a_noisy, b_private]  # kept
        assert boards["test (private)"] == [b_private, a_noisy]  # the public order reversed
        assert sorted(boards["test"]) == [a_public, a_noisy, b_private]  # all queries
        status = server.wait(alpha, a_noisy)
        assert status["selected"] is True and "private_metrics" in status
        assert status["all_queries_metrics"] == json.loads(
            json.dumps(score_submission(truth / "test", *make_runs(tmp_path, truth / "test", 3))
                       .to_json())
        )  # fmt: skip
        late = server.post(alpha, *make_runs(tmp_path, truth / "test", seed=4))
        assert late.status_code == 403 and "no phase" in late.json()["error"]

        # closed: the permanent board, all test queries, aggregates only.
        assert server.cli("phase", "open", "closed", *host).returncode == 0
        t2v, v2t = make_runs(tmp_path, truth / "test", seed=5)
        closed = _accepted(server.post(beta, t2v, v2t))
        status = server.wait(beta, closed)
        assert status["phase"] == "closed" and "details" not in status
        assert status["metrics"] == json.loads(
            json.dumps(score_submission(truth / "test", t2v, v2t).to_json())
        )
        assert closed in _boards(server)["test"]
        after = _everything_a_team_sees(
            server, {alpha: [dev, a_public, a_noisy], beta: [b_private, closed]}
        )
        assert not any(i in after for i in TEST_IDS)


def test_a_phase_opened_on_a_split_the_server_cannot_score_refuses_uploads(
    tmp_path: Path,
) -> None:
    truth = make_truth(tmp_path / "toyset" / "qrels")
    with live_server(tmp_path, truth) as server:
        team = server.add_team("alpha")
        # Opened beside the running server: the dev phase on the hidden split.
        opened = server.cli("phase", "open", "dev", "--board", str(server.board), "--split", "test")
        assert opened.returncode == 0, opened.stderr
        refused = server.post(team, *make_runs(tmp_path, truth / "test", seed=0))
        assert refused.status_code == 503
        assert refused.json()["error"] == (
            "the open phase cannot be scored here; the organisers were notified"
        )
        assert b"the dev phase scores split 'test', which is hidden" in server.log
        with server.client(team) as http:
            assert http.get("/api/team").json()["submissions_total"] == 0  # no slot kept
