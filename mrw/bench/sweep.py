"""rsum against one PVSE setting, as in the paper's Figures 5-7 (`mrw-bench sweep`).

Figure 5 sweeps the number of embeddings K (`--k 0..8`; K = 0 is the global feature alone),
Figure 6 repeats a K sweep for the ablations (`--ablations no-global,no-residual,no-mil`),
Figure 7 sweeps the loss weights (`--div-weight 0,0.01,0.1,1` or `--mmd-weight ...`). Every
point is an ordinary run record (reused when the sweep is run again); the sweep writes a PNG
plot (mean ± std over seeds), a JSON of the points and the `compare` table of all its runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrw.bench.compare import Stat, chance_rsum, group_runs, markdown_table, summarise
from mrw.bench.experiments import Experiment, Runner, run_experiments
from mrw.bench.options import RunOptions
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError

# Parameters a sweep can vary (PVSE config fields) and how the plot names them.
PARAMETERS: dict[str, tuple[type, str]] = {
    "k": (int, "K (embeddings per instance)"),
    "div_weight": (float, "λ1 (diversity loss weight)"),
    "mmd_weight": (float, "λ2 (MMD loss weight)"),
}
# The paper's Figure 6 ablations, as PVSE config overrides.
ABLATIONS: dict[str, dict[str, Any]] = {
    "no-global": {"no_global": True},
    "no-residual": {"no_residual": True},
    "no-mil": {"no_mil": True},
}
FULL_MODEL = "PVSE"


class SweepError(MRWError):
    """A sweep request that cannot be run (bad values, unknown parameter or ablation)."""


def parse_values(text: str, kind: type) -> list[Any]:
    """`0..8` (inclusive integer range) or a comma list such as `0,0.01,0.1,1`."""
    try:
        if ".." in text:
            start, stop = (int(part) for part in text.split(".."))
            if stop < start:
                raise ValueError
            values = list(range(start, stop + 1))
        else:
            values = [kind(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise SweepError(
            f"cannot read {text!r}: give A..B (integers) or a comma-separated list"
        ) from None
    if not values:
        raise SweepError("a sweep needs at least one value")
    if not all(math.isfinite(v) and 0 <= v <= 1e6 for v in values):
        raise SweepError(f"cannot read {text!r}: values must be finite, >= 0 and <= 1e6")
    return [kind(v) for v in values]


@dataclass
class SweepSpec:
    """One swept parameter, one curve per variant (the full model and any ablations)."""

    parameter: str
    values: list[Any]
    variants: dict[str, dict[str, Any]] = field(default_factory=lambda: {FULL_MODEL: {}})
    base: dict[str, Any] = field(default_factory=dict)  # overrides shared by every point
    method: str = "pvse"

    def __post_init__(self) -> None:
        if self.parameter not in PARAMETERS:
            raise SweepError(
                f"cannot sweep {self.parameter!r}; choose from {', '.join(PARAMETERS)}"
            )

    @property
    def name(self) -> str:
        """File stem of the outputs: the parameter, plus "-ablations" with extra variants."""
        return self.parameter + ("-ablations" if set(self.variants) != {FULL_MODEL} else "")

    def experiments(self) -> list[tuple[str, Any, Experiment]]:
        """(variant, value, experiment) for every point, variants outermost."""
        points = []
        for variant, overrides in self.variants.items():
            for value in self.values:
                config = {**self.base, **overrides, self.parameter: value}
                label = f"{self.method} {variant} {self.parameter}={value}"
                points.append((variant, value, Experiment(self.method, config, label)))
        return points


@dataclass
class SweepPoint:
    """One (variant, value) point: rsum over its seeds and the run folders it came from."""

    variant: str
    value: Any
    rsum: Stat
    seeds: list[int]
    runs: list[str]


@dataclass
class SweepResult:
    """Every point of a sweep, its runs' comparison table and the random-ranking rsum."""

    spec: SweepSpec
    dataset: str
    points: list[SweepPoint]
    table: str  # the compare table of every run in the sweep
    chance: float  # rsum of a random ranking on the evaluated split

    def to_json(self) -> dict[str, Any]:
        """The `sweep-{name}.json` document (spec, chance rsum, each point's mean/std rsum)."""
        return {
            "parameter": self.spec.parameter,
            "values": self.spec.values,
            "variants": self.spec.variants,
            "base_overrides": self.spec.base,
            "method": self.spec.method,
            "dataset": self.dataset,
            "chance_rsum": self.chance,
            "points": [
                {
                    "variant": p.variant,
                    "value": p.value,
                    "rsum_mean": p.rsum.mean,
                    "rsum_std": p.rsum.std,
                    "seeds": p.seeds,
                    "runs": p.runs,
                }
                for p in self.points
            ],
        }


def run_sweep(
    spec: SweepSpec,
    options: RunOptions,
    seeds: Sequence[int],
    runner: Runner | None = None,
    log: Callable[[str], None] = print,
) -> SweepResult:
    """Train and evaluate every point of `spec` under each seed (finished runs are reused).

    Args:
        spec: What to sweep.
        options: Dataset, training and output settings shared by every run.
        seeds: Seeds run at each point; rsum is summarised (mean, std) over them.
        runner: Runs one experiment; default: `mrw.bench.runner.run_method`.
        log: Progress messages.

    Returns:
        A `SweepResult`; its chance rsum is that of the first run's evaluated split.
    """
    points = spec.experiments()
    done = run_experiments([experiment for _, _, experiment in points], options, seeds, runner, log)
    results = []
    for (variant, value, _), runs in zip(points, done, strict=True):
        results.append(
            SweepPoint(
                variant,
                value,
                summarise(runs.records)["rsum"],
                sorted(r.seed for r in runs.records),
                [str(r.run_dir) for r in runs.records],
            )
        )
    groups = group_runs([record for runs in done for record in runs.records])
    table = markdown_table(groups, f"{options.dataset}: sweep of {spec.parameter}")
    return SweepResult(
        spec, options.dataset, results, table, chance_rsum(groups[0].runs[0].metrics)
    )


def plot_sweep(result: SweepResult, path: str | Path) -> Path:
    """rsum (mean ± std over seeds) against the swept value, one line per variant, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spec = result.spec
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    for variant in spec.variants:
        points = [p for p in result.points if p.variant == variant]
        ax.errorbar(
            [p.value for p in points],
            [p.rsum.mean for p in points],
            yerr=[p.rsum.std or 0.0 for p in points],
            marker="o",
            capsize=3,
            label=variant,
        )
    ax.axhline(result.chance, color="grey", linestyle="--", linewidth=1, label="random ranking")
    positive = [v for v in spec.values if v > 0]
    if PARAMETERS[spec.parameter][0] is float and len(positive) > 1:
        ax.set_xscale("symlog", linthresh=min(positive))  # λ grids span decades and include 0
    elif spec.parameter == "k":
        ax.set_xticks(spec.values)
    ax.set_xlabel(PARAMETERS[spec.parameter][1])
    ax.set_ylabel("rsum (R@1+R@5+R@10, both directions)")
    seeds = max((len(p.seeds) for p in result.points), default=1)
    ax.set_title(
        f"{result.dataset}: rsum vs {spec.parameter}"
        + (f" (mean ± std, {seeds} seeds)" if seeds > 1 else "")
    )
    ax.grid(True, alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png")
    plt.close(fig)
    return path


def write_sweep(result: SweepResult, out_dir: str | Path) -> dict[str, Path]:
    """`sweep-{name}.png`, `.json` and `.md` under `out_dir`."""
    out_dir = Path(out_dir)
    stem = out_dir / f"sweep-{result.spec.name}"
    paths = {
        "png": plot_sweep(result, stem.with_suffix(".png")),
        "json": stem.with_suffix(".json"),
        "md": stem.with_suffix(".md"),
    }
    with atomic_write(paths["json"], "w") as handle:
        json.dump(result.to_json(), handle, indent=2)
        handle.write("\n")
    with atomic_write(paths["md"], "w") as handle:
        handle.write(result.table)
    return paths
