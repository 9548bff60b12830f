"""`mrw-bench tune`: one tuning protocol for every method, by construction.

Every row (a method with its config overrides, e.g. PVSE at K=3) is trained at every point of
the same grid: the learning rates `LR_GRID` times the method's own knobs (`FIELD_GRIDS`, e.g.
Corr-AE's α), each with the same epoch budget and the same early stopping on validation rsum
(`--patience`: training ends after that many epochs without a better validation rsum, and
the best-validation weights are kept). Each point is an ordinary run through the harness's
runner, evaluated on the *validation* split, so the test split is never read: the runner
loads train, validation and the evaluated split only.

The selection rule is the same for all: the point with the highest best-epoch validation
rsum wins; a tie goes to the earlier point in grid order. The tuning file (JSON, one entry
per row: its grid, each point's validation curve, best epoch and epochs run, and the choice)
is what `mrw-bench run --tuning FILE` and `mrw-bench reproduce --tuning FILE` train with: the
chosen learning rate and knobs, the same epoch budget and patience; each run record keeps the
entry (`config.json`: `options.tuning`).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mrw.bench.experiments import Experiment, Runner, run_experiments
from mrw.bench.options import RunOptions
from mrw.bench.tuning import TuningError, tuning_key

LR_GRID = (2e-4, 1e-3, 5e-3)
"""Learning rates every row is tried at: PVSE's 2e-4 and two steps of 5x above it."""
FIELD_GRIDS: dict[str, dict[str, tuple[Any, ...]]] = {
    # Feng et al. tune the correspondence weight per dataset; these span their range.
    "corr_ae": {"alpha": (0.5, 0.8, 0.95)},
}
"""Method-specific knobs tuned beside the learning rate, by method."""
EPOCHS = 20
PATIENCE = 3
SELECTION = "highest best-epoch validation rsum; ties: the earlier grid point"


def grid_points(method: str, lr_grid: Sequence[float]) -> list[tuple[float, dict[str, Any]]]:
    """(lr, tuned fields) of every grid point of `method`, in grid order (lr outermost)."""
    fields = FIELD_GRIDS.get(method, {})
    names = sorted(fields)
    combos = [
        dict(zip(names, values, strict=True))
        for values in itertools.product(*(fields[n] for n in names))
    ]
    return [(lr, combo) for lr in lr_grid for combo in combos]


def trial_label(row: str, lr: float, tuned: Mapping[str, Any]) -> str:
    """A grid point's label, `{row} tune lr={lr}` then its tuned knobs: its run id
    (`mrw.bench.experiments.run_id`) begins with the slug of it, which `is_trial` reads."""
    return f"{row} tune lr={lr:g}" + "".join(f" {k}={v}" for k, v in tuned.items())


def is_trial(config: Mapping[str, Any]) -> bool:
    """Whether a run's `config.json` is a tuning grid point's: evaluated on validation, with
    a run id made from a `trial_label` (`pvse-k=3-tune-lr=0.001-s0-1a2b3c4d`). `compare`
    leaves these out unless asked (`--include-tuning`)."""
    options = config.get("options")
    if not isinstance(options, Mapping):
        return False
    run_id = options.get("run_id")
    return options.get("split") == "validation" and "-tune-lr=" in str(run_id or "")


def validation_curve(run_dir: Path) -> list[float]:
    """Validation rsum per trained epoch, from a run's `log.jsonl`."""
    curve = []
    for line in (run_dir / "log.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if "validation_rsum" in record and record.get("stage") != "finetune":
            curve.append(record["validation_rsum"])
    return curve


def tune_row(
    row: Experiment,
    options: RunOptions,
    lr_grid: Sequence[float] = LR_GRID,
    runner: Runner | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train `row` at every grid point on `options.seed`, evaluated on validation; choose.

    `options` carry the shared budget (`epochs`, `patience`); the evaluated split is forced to
    validation. Returns the tuning entry (see module doc).

    Raises:
        TuningError: the row already sets a tuned field, or `options` has no epoch budget.
    """
    fields = FIELD_GRIDS.get(row.method, {})
    clash = sorted(set(fields) & set(row.overrides))
    if clash:
        raise TuningError(f"{row.name}: {', '.join(clash)} is tuned; do not set it as well")
    if options.epochs is None or options.patience is None:
        raise TuningError("tuning needs an epoch budget and a patience")
    points = grid_points(row.method, lr_grid)
    experiments = [
        Experiment(
            row.method,
            {**row.overrides, **tuned},
            trial_label(row.name, lr, tuned),
            {**row.options, "lr": lr, "split": "validation"},
        )
        for lr, tuned in points
    ]
    done = run_experiments(experiments, options, [options.seed], runner=runner, log=log)
    results = []
    for (lr, tuned), runs in zip(points, done, strict=True):
        record = runs.records[0]
        results.append(
            {
                "lr": lr,
                "fields": tuned,
                "best_validation_rsum": record.best_validation_rsum,
                "best_epoch": record.best_epoch,
                "epochs_run": record.epochs_run,
                "curve": validation_curve(record.run_dir),
                "run_dir": str(record.run_dir),
            }
        )
    best = max(range(len(results)), key=lambda i: (results[i]["best_validation_rsum"], -i))
    return {
        "key": tuning_key(row.method, row.overrides),
        "label": row.name,
        "method": row.method,
        "overrides": dict(row.overrides),
        "grid": {"lr": list(lr_grid), **{k: list(v) for k, v in fields.items()}},
        "seed": options.seed,
        "epochs": options.epochs,
        "patience": options.patience,
        "selection": SELECTION,
        "points": results,
        "choice": {"lr": results[best]["lr"], "fields": results[best]["fields"]},
    }


def default_path(options: RunOptions) -> Path:
    """`RUNS_DIR/{dataset}/tuning.json`."""
    from mrw.bench.features import dataset_slug

    return Path(options.runs_dir) / dataset_slug(options.dataset) / "tuning.json"
