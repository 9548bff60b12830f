"""Backbone weights by torchvision's names, resolved before use and never silently replaced by
random ones (issue 13.5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mrw.bench.backbones import LEARNING_FREE, WEIGHTLESS, build_backbone, resolve_weights
from mrw.bench.features import FeatureError, FeatureSpec
from mrw.bench.options import RunOptions
from mrw.bench.reproduce import paper_options
from mrw.catalog import get_dataset


def test_names_resolve_to_torchvision_members() -> None:
    assert resolve_weights("resnet152", "DEFAULT") == "IMAGENET1K_V2"  # not the paper's V1
    assert resolve_weights("resnet152", "imagenet") == "IMAGENET1K_V2"  # old configs
    assert resolve_weights("resnet152", "IMAGENET1K_V1") == "IMAGENET1K_V1"
    assert resolve_weights("resnet18", "DEFAULT") == "IMAGENET1K_V1"  # resnet18 has only V1
    assert resolve_weights("histogram", "IMAGENET1K_V1") == "none"
    with pytest.raises(FeatureError, match="use one of IMAGENET1K_V1, IMAGENET1K_V2, DEFAULT"):
        resolve_weights("resnet152", "IMAGENET1K_V9")


@pytest.mark.parametrize("backbone", WEIGHTLESS)
def test_every_non_torchvision_backbone_needs_no_weights(backbone: str, tmp_path: Path) -> None:
    """Catalogued names and dataset folders alike: `mrw` and a folder default to ImageNet
    weights, which a backbone without weights ignores instead of failing as unknown."""
    for dataset in ("mrw", "toy", str(tmp_path)):
        assert RunOptions(dataset=dataset, backbone=backbone).resolved().weights == "none"
    assert resolve_weights(backbone, "IMAGENET1K_V1") == "none"


def test_the_learning_free_backbones_build_and_are_offered() -> None:
    for backbone in LEARNING_FREE:
        model, used = build_backbone(backbone, "IMAGENET1K_V1")
        assert used == "none"
        assert model(torch.zeros(2, 3, 32, 32)).shape[0] == 2
    help_text = subprocess.run(
        [sys.executable, "-m", "mrw.bench.cli", "run", "--help"],
        capture_output=True, text=True, check=True, env={**os.environ, "COLUMNS": "200"},
    ).stdout  # fmt: skip
    assert all(backbone in help_text for backbone in WEIGHTLESS)


def test_resolved_name_is_in_the_options_and_the_cache_key() -> None:
    options = RunOptions(dataset="mrw", weights="DEFAULT").resolved()
    assert options.weights == "IMAGENET1K_V2"
    assert "resnet152-IMAGENET1K_V2-" in options.feature_spec("test").cache_path().name
    assert RunOptions(dataset="mrw").resolved().weights == "IMAGENET1K_V1"
    spec = FeatureSpec("mrw", "test", "resnet152", "IMAGENET1K_V1")
    assert (
        spec.cache_path() != FeatureSpec("mrw", "test", "resnet152", "IMAGENET1K_V2").cache_path()
    )


def test_reproduce_uses_the_papers_v1_weights() -> None:
    for name in ("mrw", "tgif"):
        assert paper_options(get_dataset(name), RunOptions()).weights == "IMAGENET1K_V1"


def test_unloadable_weights_stop_instead_of_falling_back(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # nothing cached there
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(FeatureError, match="cannot load resnet18 IMAGENET1K_V1 weights offline"):
        build_backbone("resnet18", "IMAGENET1K_V1")
    _, used = build_backbone("resnet18", "none")  # random weights only when asked for
    assert used == "none"


def test_cached_weights_are_the_ones_loaded(monkeypatch, tmp_path) -> None:
    import torchvision

    member = torchvision.models.ResNet18_Weights.IMAGENET1K_V1
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    torch.manual_seed(7)
    reference = torchvision.models.resnet18(weights=None).state_dict()
    torch.save(reference, checkpoints / Path(member.url).name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, used = build_backbone("resnet18", "DEFAULT")
    assert used == "IMAGENET1K_V1"
    torch.testing.assert_close(model.state_dict()["conv1.weight"], reference["conv1.weight"])


@pytest.mark.slow  # an interpreter with torch
def test_run_with_unloadable_weights_is_a_one_line_error(tmp_path: Path, toy_dataset_dir) -> None:
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "HF_HUB_OFFLINE": "1",
           "MRW_CACHE": str(tmp_path / "cache")}  # fmt: skip
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mrw-bench"), "run", "vsepp",
         "--dataset", str(toy_dataset_dir), "--backbone", "resnet18", "--weights", "IMAGENET1K_V1",
         "--epochs", "1", "--runs-dir", str(tmp_path / "runs")],
        check=False, capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    assert "cannot load resnet18 IMAGENET1K_V1 weights offline" in lines[0]
    assert "--weights none" in lines[0]
    assert not list((tmp_path / "runs").rglob("metrics.json"))  # no record of a run not made
