"""A hidden split gives back no relevant document, whatever run a team sends (issue 28, item 13),
on a board without phases and in a board's test phase with its private split (issue 27).

Written as the attacker: each run below is sent to a live server's hidden `test` split, and the
answer is all the attacker learns. The attacker then tries every candidate document of the
targeted query: for each, a ground truth in which that candidate is the relevant one is built
and the same run scored against it by the server's own code. The candidate is excluded only if
that answer differs from the one received; the test asserts that no candidate is excluded.
Before the hidden-split rule, a run ranking one query and nothing else got a MeanR bound that
excluded every candidate but the true one, in both directions.

The partial-run probe of the test phase: a team targets a query of the public part, then one
of the private part, with the same partial shapes; the two answers, and everything else the
team can read afterwards (board, pages, detail), must be the same: nothing tells the parts
apart or gives away a relevant document.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from leaderboard.qrels import write_qrels
from leaderboard.score import load_truth
from leaderboard.server.phases import private_mask
from leaderboard.server.scoring import score_stored
from leaderboard.server.truth import Split
from mrw.testing.leaderboard_server import CAPTIONS, N_VIDEOS, LiveServer, live_server, make_truth

pytestmark = pytest.mark.slow

SENTENCES = [f"test-s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
VIDEOS = [f"test-v{v}" for v in range(N_VIDEOS)]
TRUE_PAIRS = {s: f"test-v{s.split('-s')[1].split('_')[0]}" for s in SENTENCES}  # sentence->video
SEED = 11  # of the test phase's private split
SHAPES = ["one query", "k queries", "the rest one line"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("hidden")
    truth = make_truth(folder / "toyset" / "qrels")
    with live_server(folder, truth, "--per-day", "50") as live:
        yield live


@pytest.fixture(scope="module")
def phased(tmp_path_factory: pytest.TempPathFactory):
    """A server in its test phase, the private split made from `SEED`."""
    folder = tmp_path_factory.mktemp("phased")
    truth = make_truth(folder / "toyset" / "qrels")
    with live_server(folder, truth, "--per-day", "50") as live:
        opened = live.cli("phase", "open", "test", "--board", str(live.board), "--seed", str(SEED))
        assert opened.returncode == 0, opened.stderr
        live.truth = truth
        yield live


def _ranked(query: str, documents: list[str], rng: np.random.Generator) -> list[str]:
    """The attacker ranks `documents` for `query` in an order of its choosing."""
    order = rng.permutation(len(documents))
    return [
        f"{query} Q0 {documents[i]} {rank} {len(documents) - rank} atk\n"
        for rank, i in enumerate(order, start=1)
    ]


def _runs(
    shape: str, rng: np.random.Generator, target: dict[str, int] | None = None
) -> dict[str, str]:
    """The attacker's run pair: text per direction. The target query of each direction is
    `target[direction]` (default: query 0)."""
    runs = {}
    for direction, queries, documents in (("t2v", SENTENCES, VIDEOS), ("v2t", VIDEOS, SENTENCES)):
        aim = (target or {}).get(direction, 0)
        lines = _ranked(queries[aim], documents, rng)  # every document, for the target only
        others = queries[:aim] + queries[aim + 1 :]
        if shape == "k queries":
            for query in others[:2]:
                lines += _ranked(query, documents, rng)
        elif shape == "the rest one line":  # every query present, the others one line deep
            for query in others:
                lines += _ranked(query, documents, rng)[:1]
        runs[direction] = "".join(lines)
    return runs


def _alternative(folder: Path, pairs: dict[str, str]) -> Split:
    """A hidden split whose truth is `pairs` (sentence -> video), as the server loads one."""
    write_qrels(folder / "t2v.qrels", list(pairs.items()))
    write_qrels(folder / "v2t.qrels", [(v, s) for s, v in pairs.items()])
    return Split("test", load_truth(folder), "alternative", public=False)


def _answer(status: dict) -> str:
    """What a team learns from a submission: its outcome, metrics or reason."""
    return json.dumps({key: status.get(key) for key in ("status", "metrics", "reason")})


def _candidates(direction: str) -> list[tuple[str, Callable[[dict[str, str]], dict[str, str]]]]:
    """Every document the target query of `direction` could have as a relevant one, with the
    change of the truth that makes it so (t2v: sentence 0's video; v2t: a sentence of video 0)."""
    if direction == "t2v":
        return [(v, lambda pairs, v=v: {**pairs, SENTENCES[0]: v}) for v in VIDEOS]
    return [(s, lambda pairs, s=s: {**pairs, s: VIDEOS[0]}) for s in SENTENCES]


@pytest.mark.parametrize("shape", ["one query", "k queries", "the rest one line"])
def test_no_run_on_a_hidden_split_reveals_a_relevant_document(
    server: LiveServer, shape: str, tmp_path: Path
) -> None:
    token = server.add_team(shape)
    runs = _runs(shape, np.random.default_rng(len(shape)))
    upload = tmp_path / "upload"
    upload.mkdir()
    for direction, text in runs.items():
        (upload / f"{direction}.run").write_text(text)
    response = server.post(token, upload / "t2v.run", upload / "v2t.run", name="attack")
    assert response.status_code == 202, response.text
    received = _answer(server.wait(token, int(response.json()["id"])))

    for direction in ("t2v", "v2t"):
        consistent = []
        for candidate, make_relevant in _candidates(direction):
            folder = tmp_path / direction / candidate
            split = _alternative(folder, make_relevant(TRUE_PAIRS))
            outcome = score_stored(upload, split, max_bytes=1 << 20)
            document = {"status": "scored" if outcome.metrics else "failed", "reason": None}
            if outcome.metrics is not None:
                document["metrics"] = outcome.metrics.to_json()
            else:
                document["reason"] = outcome.reason
            if _answer(json.loads(json.dumps(document))) == received:
                consistent.append(candidate)
        documents = VIDEOS if direction == "t2v" else SENTENCES
        assert consistent == documents, (direction, received, consistent)


def _seen_by(live: LiveServer, token: str, submission_id: int) -> str:
    """What a team reads about one of its submissions and the board, its id masked."""
    with live.client(token) as http:
        status = http.get(f"/api/submissions/{submission_id}").json()
        detail = http.get(f"/api/submissions/{submission_id}/detail")
        board = http.get("/api/board").json()["boards"]
        page = http.get(f"/submissions/{submission_id}")
    kept = {k: v for k, v in status.items() if k not in ("id", "submitted_utc", "t2v_sha256",
                                                         "v2t_sha256", "name", "team")}  # fmt: skip
    return json.dumps([kept, detail.status_code, detail.json(), board, page.status_code])


@pytest.mark.parametrize("shape", SHAPES)
def test_a_partial_run_in_the_test_phase_tells_public_from_private_nothing(
    phased: LiveServer, shape: str, tmp_path: Path
) -> None:
    qrels = load_truth(phased.truth / "test")
    masks = {d: private_mask(qrels[d], SEED, 0.5, d) for d in ("t2v", "v2t")}
    seen = {}
    for part in ("public", "private"):
        token = phased.add_team(f"{shape} {part}")
        in_part = {d: m if part == "private" else ~m for d, m in masks.items()}
        target = {d: int(np.flatnonzero(m)[0]) for d, m in in_part.items()}
        upload = tmp_path / part
        upload.mkdir()
        for direction, text in _runs(shape, np.random.default_rng(len(shape)), target).items():
            (upload / f"{direction}.run").write_text(text)
        response = phased.post(token, upload / "t2v.run", upload / "v2t.run", name="attack")
        assert response.status_code == 202, response.text
        submission_id = int(response.json()["id"])
        status = phased.wait(token, submission_id)
        assert status["status"] == "failed", status  # refused as on a split without phases
        assert status["reason"].startswith("t2v: a hidden split is scored only for a run that")
        seen[part] = _seen_by(phased, token, submission_id)
        outcome = score_stored(upload, Split("test", qrels, "", public=False), 1 << 20, masks)
        assert outcome.reason == status["reason"]  # scored as the server scores, parts and all
    assert seen["public"] == seen["private"]
    assert not any(i in seen["public"] for i in ("test-s", "test-v"))
