"""`make demo` ends on the stored headline of the tuned comparison, labelled as stored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mrw import demo
from mrw.demo import DemoContext, headline_stage


def test_headline_quotes_the_stored_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stored = {
        "command": "mrw-bench tune --table toy, then reproduce",
        "docs": "docs/results.md",
        "tables": [
            {
                "dataset": "toy v4",
                "rows": ["pvse K=1", "pvse K=3", "devise"],
                "seeds": 5,
                "k3_minus_k1": 8.25,
                "p_seeds": "0.083",
                "decision": "no difference detected at 5 seeds",
                "best": "pvse K=3 114.4",
                "headroom": 16.5,
            }
        ],
    }
    path = tmp_path / "headline.json"
    path.write_text(json.dumps(stored))
    monkeypatch.setattr(demo, "HEADLINE", path)
    text = headline_stage(DemoContext(tmp_path))
    assert text.startswith("STORED RESULT, not rerun by the demo")
    assert "pvse K=1, pvse K=3, devise" in text and "+8.2 rsum" in text and "p = 0.083" in text
    assert "docs/results.md" in text and len(text.splitlines()) <= 12  # one screen
    monkeypatch.setattr(demo, "HEADLINE", tmp_path / "missing.json")
    assert "docs/results.md" in headline_stage(DemoContext(tmp_path))


def test_the_stored_headline_is_in_the_docs() -> None:
    stored = json.loads(demo.HEADLINE.read_text(encoding="utf-8"))
    assert {t["dataset"] for t in stored["tables"]} == {"toy v4", "toy v3"}
    for table in stored["tables"]:
        assert {"pvse K=1", "pvse K=3"} <= set(table["rows"]) and table["seeds"] == 5
