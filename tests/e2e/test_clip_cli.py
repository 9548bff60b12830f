"""`mrw-bench run clip-zeroshot --dataset toy` with no cached weights and no network: one line
naming the weights and how to get them, exit 2, before any decoding; `mrw-bench list` shows
the CLIP rows with their papers and defaults.

"No network" is real: either the Hub's offline switch, or an endpoint on a loopback port
nobody listens on; the Hub cache is an empty folder.
"""

from __future__ import annotations

import os
import socket

import pytest

pytest.importorskip("open_clip")

from mrw.testing.clip import run_without_weights  # noqa: E402


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again on exit: connections are refused


@pytest.mark.parametrize("offline", ["1", "0"], ids=["HF_HUB_OFFLINE", "unreachable-hub"])
def test_zero_shot_without_cached_weights_is_one_line_and_exit_2(tmp_path, offline) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(
        HF_HOME=str(tmp_path / "hf"),
        HF_HUB_OFFLINE=offline,
        HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        MRW_CACHE=str(tmp_path / "cache"),
    )
    line = run_without_weights("clip-zeroshot", env)
    assert "ViT-B-32/laion2b_s34b_b79k" in line
    assert "laion/CLIP-ViT-B-32-laion2B-s34B-b79K" in line
    assert "run once with network access" in line and "pretrained=none" in line
    assert not (tmp_path / "cache").exists()  # failed before building or decoding anything


def test_list_shows_the_clip_rows_with_papers_and_defaults(capsys) -> None:
    from mrw.bench.cli import main

    assert main(["list", "clip*"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "clip-zeroshot" in out and "clip4clip" in out
    assert "Radford" in out and "CLIP4Clip" in out and "Luo" in out
    assert "laion2b_s34b_b79k" in out and "train_blocks=-1" in out and "zero-shot" in out
