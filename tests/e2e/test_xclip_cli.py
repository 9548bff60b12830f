"""`mrw-bench run xclip-zeroshot --dataset toy` with no cached weights and no network: one
line naming the repository and how to get it, exit 2, before any decoding; `mrw-bench list`
shows the row with its paper and defaults."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("transformers", reason="X-CLIP needs the xclip extra (transformers)")

from mrw.testing.clip import run_without_weights  # noqa: E402


@pytest.mark.parametrize("switch", ["HF_HUB_OFFLINE", "MRW_OFFLINE"])
def test_zero_shot_without_cached_weights_is_one_line_and_exit_2(tmp_path, switch) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({switch: "1", "HF_HOME": str(tmp_path / "hf"), "MRW_CACHE": str(tmp_path / "c")})
    line = run_without_weights("xclip-zeroshot", env)
    assert line.startswith("error: X-CLIP model ")
    assert "microsoft/xclip-base-patch32 is not in the Hugging Face cache" in line
    assert "hf download microsoft/xclip-base-patch32" in line
    assert "pretrained=none" in line
    assert not (tmp_path / "c").exists()  # failed before building or decoding anything


def test_list_shows_the_xclip_row_with_paper_and_defaults(capsys, monkeypatch) -> None:
    from mrw.bench.cli import main

    monkeypatch.setenv("COLUMNS", "300")  # one line per row: the repository id unfolded
    assert main(["list", "xclip*"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "xclip-zeroshot" in out and "Ni et al." in out and "ECCV 2022" in out
    assert "pretrained='microsoft/xclip-base-patch32'" in out
    assert "text_conditioning='video'" in out and "zero-shot" in out
