"""`mrw-leaderboard score` reports multi-positive metrics beside the one-positive ones when the
truth folder has `multi-positive/` (written by `mrw qrels --multi-positive`), parsing each run
once; the one-positive document is unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from leaderboard.cli import main
from leaderboard.qrels import write_qrels
from leaderboard.runfile import write_run
from leaderboard.score import score_submission
from mrw.dataset.qrels import multi_positive_pairs

VIDEOS = [f"v{i}" for i in range(10)]
SENTENCES = [f"s{i}" for i in range(10)]
GROUP_OF = {"v0": "v0", "v1": "v0", "v2": "v0", "v6": "v6", "v7": "v6"}


@pytest.fixture
def truth(tmp_path: Path) -> Path:
    root = tmp_path / "qrels" / "test"
    for folder, groups in ((root, None), (root / "multi-positive", GROUP_OF)):
        pairs = multi_positive_pairs(SENTENCES, VIDEOS, groups)
        for direction, judged in pairs.items():
            # reversed: ids first appear in another order than in the one-positive files
            write_qrels(folder / f"{direction}.qrels", judged[:: -1 if groups else 1])
    return root


def _runs(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    scores = np.eye(10, dtype=np.float32) + rng.standard_normal((10, 10)).astype(np.float32)
    t2v, v2t = tmp_path / "t2v.run", tmp_path / "v2t.run.gz"
    write_run(t2v, SENTENCES, VIDEOS, scores, "m", depth=4)
    write_run(v2t, VIDEOS, SENTENCES, scores.T, "m", depth=4)
    return t2v, v2t


def test_score_reports_both_relevances_labelled(truth: Path, tmp_path: Path, capsys) -> None:
    t2v, v2t = _runs(tmp_path)
    assert main(["score", "--truth", str(truth), str(t2v), str(v2t), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    one = score_submission(truth, t2v, v2t).to_json()
    multi = score_submission(truth / "multi-positive", t2v, v2t).to_json()
    assert one != multi
    assert document == {**one, "multi-positive": multi}

    assert main(["score", "--truth", str(truth), str(t2v), str(v2t)]) == 0
    out = capsys.readouterr().out
    assert out.index("one-positive") < out.index("multi-positive") and out.count("rsum") == 2
    card_line = out.index("protocol card: ")  # the one-positive table's card, right under it
    assert out.index("one-positive") < card_line < out.index("multi-positive (relevance multi")
    assert "mAP" in out and "nDCG@10" in out


def test_multi_positive_qrels_of_other_ids_are_a_one_line_error(
    truth: Path, tmp_path: Path, capsys
) -> None:
    t2v, v2t = _runs(tmp_path)
    write_qrels(truth / "multi-positive" / "t2v.qrels", [("s0", "v0"), ("s99", "v1")])
    assert main(["score", "--truth", str(truth), str(t2v), str(v2t)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "does not judge the same queries and documents" in err[0]
