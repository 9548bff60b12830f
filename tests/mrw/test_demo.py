"""The demo's "compare methods" stage: every method on the same options, one table written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from mrw.bench import runner as runner_module
from mrw.demo import DemoContext, compare_methods_stage, frame_strip
from tests.mrw.bench.test_sweep import FakeRunner


def test_compare_stage_runs_pvse_k1_and_baselines_and_writes_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeRunner()
    monkeypatch.setattr(runner_module, "run_method", fake)
    ctx = DemoContext(tmp_path)
    ctx.state["dataset"] = "toy"
    summary = compare_methods_stage(ctx)
    trained = sorted((method, str(overrides.get("k", "-"))) for method, overrides, _ in fake.calls)
    assert trained == sorted(
        [
            ("pvse", "1"),
            ("pvse", "3"),
            ("devise", "-"),
            ("vsepp", "-"),  # VSE0 (summed negatives)
            ("vsepp", "-"),  # VSE++ (hardest negative)
            ("order", "-"),
            ("corr_ae", "-"),
            ("dual_path", "-"),
        ]
    )
    table = (tmp_path / "compare.md").read_text()
    assert "pvse (embed_dim=256, hidden_dim=256, k=1, max_violation=False)" in table
    assert "Random ranking" in table and "**Paired tests**" in table
    assert (tmp_path / "compare.json").is_file()
    assert summary.startswith("8 methods compared") and "the toy set's ceiling is 186.5" in summary
    assert "PVSE K=3 - K=1: +20.0 rsum (paired t over test pairs p=–)" in summary  # no ranks
    assert len(list((tmp_path / "runs").rglob("metrics.json"))) == 8
    # Run again: finished runs are reused, nothing is retrained.
    compare_methods_stage(ctx)
    assert len(fake.calls) == 8


def test_contact_sheet_frames_are_separated_by_a_gap() -> None:
    frames = torch.zeros(3, 3, 4, 5, dtype=torch.uint8)
    strip = frame_strip(frames, gap=2)
    assert strip.shape == (3, 4, 3 * 5 + 2 * 2)
    assert bool((strip[:, :, 5:7] == 255).all()) and bool((strip[:, :, 12:14] == 255).all())
    assert bool((strip[:, :, :5] == 0).all())
