"""PVSE's loss and word-vector departures from the reference code: listed by every paper
table's `reproduce --dry-run`, each with the `--set` that restores the reference's behaviour,
and that option reaching every PVSE run of the plan."""

from __future__ import annotations

import pytest

from mrw.bench.cli import main as bench_main
from mrw.bench.reproduce import make_plan
from mrw.catalog import get_dataset

RESTORES = (
    "--set mmd_kernel=distance restores it",
    "--set mmd_at_k1=false restores it",
    "--set finetune_words=false restores it",
)


@pytest.mark.parametrize("table", ["table2", "table3", "table4"])
def test_dry_run_lists_the_pvse_departures_with_their_options(
    table: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["reproduce", table, "--dry-run"]) == 0
    out = capsys.readouterr().out
    for phrase in (
        "MMD kernel: the paper's exp(-γ‖x-y‖²) (mmd_kernel=squared)",
        "reference code computes exp(-γ‖x-y‖)",
        "PVSE K=1 (and K=0) adds λ2·MMD",
        "adds MMD and diversity only for K > 1",
        "word vectors are fine-tuned with the model (finetune_words=true)",
        "--txt_finetune",
        *RESTORES,
    ):
        assert phrase in out, (table, phrase)
    # λ × B only where negatives are summed (MRW, TGIF), never under the hardest (COCO)
    assert ("multiplied by B" in out) == (table != "table2")


def test_the_options_restore_the_reference_in_the_plan_and_its_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["reproduce", "table4", "--dry-run", "--set", "mmd_kernel=distance"]
    argv += ["--set", "mmd-at-k1=false", "--set", "finetune_words=false"]
    assert bench_main(argv) == 0
    out = capsys.readouterr().out
    assert "MMD kernel: the reference code's exp(-γ‖x-y‖) (mmd_kernel=distance)" in out
    assert "trains without MMD and diversity, as the reference code" in out
    assert "word vectors frozen, as the reference's README commands" in out
    assert not any(phrase in out for phrase in RESTORES)
    reference = {"mmd_kernel": "distance", "mmd_at_k1": False, "finetune_words": False}
    plan = make_plan("table4", get_dataset("mrw"), reference)
    pvse = [e for e in plan.experiments if e.method == "pvse"]
    assert len(pvse) == 2 and all(reference.items() <= e.overrides.items() for e in pvse)
    assert all("mmd_kernel" not in e.overrides for e in plan.experiments if e.method != "pvse")
    sweep = make_plan("fig5", get_dataset("mrw"), reference).sweeps[0]
    assert reference.items() <= sweep.base.items()


def test_hardest_negative_set_by_hand_is_listed_with_its_way_back(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_main(["reproduce", "table4", "--dry-run", "--set", "max_violation=true"]) == 0
    out = capsys.readouterr().out
    assert "takes the hardest negative (max_violation=true)" in out
    assert "--set max_violation=false restores it" in out and "multiplied by B" not in out


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("k=3", "the plan sets k itself"),
        ("no_such_field=1", "not an option of pvse"),
        ("mmd_kernel=laplace", "mmd_kernel must be"),
        ("mmd_at_k1=maybe", "expected true or false"),
        ("mmd_at_k1", "FIELD=VALUE"),
    ],
)
def test_bad_settings_are_one_line_errors(
    setting: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench_main(["reproduce", "table4", "--dry-run", "--set", setting]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
