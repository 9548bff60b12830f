"""`mrw-bench run` / `features`: flags map to method configs, bad input is a one-line error."""

from __future__ import annotations

import json

import pytest

from mrw.bench.cli import main
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import synthetic_flags, synthetic_options


@pytest.fixture()
def synthetic(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    options = synthetic_options(tmp_path / "cache", tmp_path / "runs")
    return [*synthetic_flags(options), "--runs-dir", str(tmp_path / "runs")]


def test_run_prints_a_table_and_applies_method_flags(synthetic, tmp_path, capsys) -> None:
    code = main(
        [
            "run",
            "tiny-test-method",
            *synthetic,
            "--epochs",
            "1",
            "--margin",
            "0.3",
            "--set",
            "embed_dim=8",
            "--run-id",
            "cli",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "tiny-test-method" in out and "rsum" in out and "t2v R@1" in out
    (run_dir,) = (tmp_path / "runs").glob("*/tiny-test-method/cli")
    config = json.loads((run_dir / "config.json").read_text())
    assert config["method_config"] == {"embed_dim": 8, "margin": 0.3}
    assert config["options"]["epochs"] == 1 and config["options"]["batch_size"] == 32


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "3"], "k: not an option of tiny-test-method"),
        (["--set", "embed_dim=wide"], "--set embed_dim"),
        (["--set", "margin"], "FIELD=VALUE"),
        (["--dataset", "no-such-dataset"], "unknown dataset"),
    ],
)
def test_bad_input_is_one_line_exit_2(synthetic, capsys, extra, message) -> None:
    assert main(["run", "tiny-test-method", *synthetic, "--epochs", "1", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err


@pytest.mark.parametrize(
    ("method", "extra", "message"),
    [
        ("tiny-test-method", ["--embed-dim", "100000000"], "embed_dim must be <= 16384"),
        ("pvse", ["--k", "100000000"], "k must be <= 64"),
        ("pvse", ["--hidden-dim", "100000000"], "hidden_dim must be <= 16384"),
    ],
)
def test_oversized_models_are_refused_before_any_run_folder(
    synthetic, tmp_path, capsys, method, extra, message
) -> None:
    assert main(["run", method, *synthetic, "--epochs", "1", *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").rglob("config.json"))


def test_run_depth_takes_a_positive_integer_or_full(capsys) -> None:
    from mrw.bench.commands.run import _run_depth

    assert _run_depth("full") == 0 and _run_depth("250") == 250
    for bad in ("0", "-3", "deep"):
        assert main(["run", "nope", "--run-depth", bad]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "positive integer or 'full'" in err


def test_unknown_method_and_splits(capsys) -> None:
    assert main(["run", "nope"]) == 2
    assert "unknown method 'nope'" in capsys.readouterr().err
    assert main(["features", "--splits", "train,dev"]) == 2
    assert "--splits" in capsys.readouterr().err
