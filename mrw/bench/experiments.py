"""Many runs as one experiment: (method, overrides) x seeds through `run_method`, resumable.

`sweep` and `reproduce` both describe their work as a list of `Experiment`s. Each (experiment,
seed) gets a run id derived from its settings, so running the same sweep again reuses the
finished runs, resumes an interrupted one from its checkpoint, and only trains what is
missing. The runs land in the ordinary run tree, so `compare` tabulates them like any other.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrw.bench.identity import experiment_hash, experiment_settings
from mrw.bench.options import RunOptions
from mrw.bench.record import RunRecord

if TYPE_CHECKING:  # the runner imports torch; `mrw-bench --help` must not
    from mrw.bench.runner import RunResult

# Seeds per configuration (`--seeds`): a thousand runs of each is already far past any table.
MAX_SEEDS = 1000
# RunOptions fields that do not change what is trained (left out of the run id hash).
Runner = Callable[[str, Mapping[str, Any], RunOptions], "RunResult"]


@dataclass(frozen=True)
class Experiment:
    """One configuration to train: a registered method, its config overrides, a display label,
    and the run options it sets itself (e.g. its paper's batch size) over the shared ones."""

    method: str
    overrides: Mapping[str, Any] = field(default_factory=dict)
    label: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)

    def run_options(self, shared: RunOptions) -> RunOptions:
        """`shared` with this experiment's own options applied."""
        return dataclasses.replace(shared, **self.options) if self.options else shared

    @property
    def name(self) -> str:
        return self.label or self.method


@dataclass
class ExperimentRuns:
    experiment: Experiment
    records: list[RunRecord]


def seed_range(first: int, count: int) -> list[int]:
    """The `count` seeds `first, first + 1, ...` of each configuration.

    Raises:
        MRWError: `count` outside [1, `MAX_SEEDS`].
    """
    if not 1 <= count <= MAX_SEEDS:
        from mrw.core.errors import MRWError

        raise MRWError(f"--seeds must be between 1 and {MAX_SEEDS:,}, got {count}")
    return list(range(first, first + count))


def run_id(experiment: Experiment, options: RunOptions, seed: int) -> str:
    """`{label}-s{seed}-{hash}`: the hash is the experiment's (`mrw.bench.identity`): the
    method, its full config with the overrides, and the run options less bookkeeping."""
    from mrw.methods.registry import make_config

    config = dataclasses.asdict(make_config(experiment.method, experiment.overrides))
    settings = experiment_settings(experiment.method, config, dataclasses.asdict(options))
    slug = re.sub(r"[^A-Za-z0-9=.]+", "-", experiment.name).strip("-").lower()
    return f"{slug}-s{seed}-{experiment_hash(settings)}"


def _existing(options: RunOptions, method: str, rid: str) -> Path | None:
    """A run of the same settings and seed, whatever its label (a table row and a sweep point
    with equal overrides share one run): matched on the id's `-s{seed}-{hash}` tail."""
    tail = rid[rid.rindex("-s") :]
    matches = sorted(Path(options.runs_dir).glob(f"*/{method}/*{tail}"))
    exact = [m for m in matches if m.name == rid]
    return (exact or matches or [None])[0]


def row_labels(text: str) -> list[str]:
    """`--rows`: comma-separated row labels (labels hold no commas)."""
    labels = [label.strip() for label in text.split(",") if label.strip()]
    if not labels:
        raise argparse.ArgumentTypeError("expected row labels, e.g. 'pvse K=1,pvse K=3'")
    return labels


def select_rows(experiments: Sequence[Experiment], labels: Sequence[str]) -> list[Experiment]:
    """The experiments named by `labels`, in their own order.

    Raises:
        MRWError: a label that names no experiment.
    """
    from mrw.core.errors import MRWError

    names = [e.name for e in experiments]
    unknown = [label for label in labels if label not in names]
    if unknown:
        raise MRWError(f"no row {', '.join(unknown)}; rows: {', '.join(names)}")
    return [e for e in experiments if e.name in labels]


def validate(experiments: Sequence[Experiment]) -> None:
    """Build every config first, so a bad option fails before hours of training."""
    from mrw.methods.registry import make_config

    for experiment in experiments:
        make_config(experiment.method, experiment.overrides)


def run_experiments(
    experiments: Sequence[Experiment],
    options: RunOptions,
    seeds: Sequence[int],
    runner: Runner | None = None,
    log: Callable[[str], None] = print,
) -> list[ExperimentRuns]:
    """Train (or reuse) every experiment under every seed; records in experiment order."""
    if runner is None:
        from mrw.bench.runner import run_method as runner
    validate(experiments)
    total = len(experiments) * len(seeds)
    out = []
    for i, experiment in enumerate(experiments):
        records = []
        own = experiment.run_options(options)
        for j, seed in enumerate(seeds):
            rid = run_id(experiment, own, seed)
            step = f"[{i * len(seeds) + j + 1}/{total}] {experiment.name} seed {seed}"
            existing = _existing(own, experiment.method, rid)
            if existing is not None and (existing / "metrics.json").is_file():
                log(f"{step}: reusing {existing}")
                records.append(RunRecord.from_disk(existing))
                continue
            resume = str(existing) if existing is not None else None
            log(f"{step}: {'resuming' if resume else 'training'}")
            result = runner(
                experiment.method,
                experiment.overrides,
                dataclasses.replace(own, seed=seed, run_id=rid, resume=resume),
            )
            records.append(RunRecord.from_disk(result.run_dir))
        out.append(ExperimentRuns(experiment, records))
    return out
