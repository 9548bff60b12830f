"""A hidden split gives back no relevant document, whatever run a team sends (issue 28, item 13).

Written as the attacker: each run below is sent to a live server's hidden `test` split, and the
answer is all the attacker learns. The attacker then tries every candidate document of the
targeted query: for each, a ground truth in which that candidate is the relevant one is built
and the same run scored against it by the server's own code. The candidate is excluded only if
that answer differs from the one received; the test asserts that no candidate is excluded.
Before the hidden-split rule, a run ranking one query and nothing else got a MeanR bound that
excluded every candidate but the true one, in both directions.
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
from leaderboard.server.scoring import score_stored
from leaderboard.server.truth import Split
from mrw.testing.leaderboard_server import CAPTIONS, N_VIDEOS, LiveServer, live_server, make_truth

pytestmark = pytest.mark.slow

SENTENCES = [f"test-s{v}_{c}" for v in range(N_VIDEOS) for c in range(CAPTIONS)]
VIDEOS = [f"test-v{v}" for v in range(N_VIDEOS)]
TRUE_PAIRS = {s: f"test-v{s.split('-s')[1].split('_')[0]}" for s in SENTENCES}  # sentence->video


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("hidden")
    truth = make_truth(folder / "toyset" / "qrels")
    with live_server(folder, truth, "--per-day", "50") as live:
        yield live


def _ranked(query: str, documents: list[str], rng: np.random.Generator) -> list[str]:
    """The attacker ranks `documents` for `query` in an order of its choosing."""
    order = rng.permutation(len(documents))
    return [
        f"{query} Q0 {documents[i]} {rank} {len(documents) - rank} atk\n"
        for rank, i in enumerate(order, start=1)
    ]


def _runs(shape: str, rng: np.random.Generator) -> dict[str, str]:
    """The attacker's run pair: text per direction. Query 0 of each direction is the target."""
    runs = {}
    for direction, queries, documents in (("t2v", SENTENCES, VIDEOS), ("v2t", VIDEOS, SENTENCES)):
        lines = _ranked(queries[0], documents, rng)  # every document, for the target only
        if shape == "k queries":
            for query in queries[1:3]:
                lines += _ranked(query, documents, rng)
        elif shape == "the rest one line":  # every query present, the others one line deep
            for query in queries[1:]:
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
