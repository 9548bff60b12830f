"""`mrw-bench reproduce table3|table4|fig5|fig6|fig7|toy`: the PVSE paper's experiments.

Settings come from the catalogue (`mrw.catalog`: the paper and its reference code
yalesong/pvse): T = 8 frames and K = 3 for TGIF, T = 4 and K = 5 for MRW (the released
checkpoints), batch 128, margin 0.1, λ1 (diversity) = 0.1, λ2 (MMD) = 0.01, learning rate
2e-4 (each baseline at its own `default_lr`), 30 epochs, ResNet-152 features and GloVe 840B
word vectors, PVSE's ranking loss summed over negatives (the paper's L_mil). Tables 3 (TGIF)
and 4 (MRW) compare PVSE, PVSE K=1 and the baselines, with paired tests against PVSE K=1;
Figure 5 sweeps K, Figure 6 the ablations over K, Figure 7 the two loss weights. `toy` is the
toy table (docs/results.md): the baselines and PVSE at K = 0, 1, 3, 5 and K = 3 with the
diversity term on attention, every ranking loss summing over negatives and D = H = 256.
The command prints what it will run, the protocol card of each table (`planned_cards`: COCO's
1K x 5 and 5K, TGIF's paper protocol or all sentences, MRW's test split), every departure from
the paper (`mrw.bench.departures`) and a rough GPU time estimate before starting (`--dry-run`
stops there); a table it writes is headed by the finished runs' card; finished runs are
reused, so an interrupted reproduction resumes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mrw.bench.departures import departures
from mrw.bench.experiments import Experiment
from mrw.bench.options import RunOptions
from mrw.bench.sweep import ABLATIONS, FULL_MODEL, SweepSpec
from mrw.catalog import DatasetRecord, PaperSettings, get_dataset, list_datasets
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.protocol import ProtocolCard, card_document, require_one_card

BASELINES = ("devise", "vsepp", "order", "corr_ae", "dual_path")
DIV_GRID = [0.0, 0.01, 0.1, 1.0]  # decades around the paper's λ1 = 0.1
MMD_GRID = [0.0, 0.001, 0.01, 0.1]  # decades around the paper's λ2 = 0.01
FIGURES = ("fig5", "fig6", "fig7")
# PVSE fields in which a plan's runs differ (its rows and curves), so `--set` cannot fix them.
PLANNED_FIELDS = ("k", "no_global", "no_residual", "no_mil")
# Baselines whose papers state a batch size: VSE++ (Faghri et al. 2018) and order embeddings
# (Vendrov et al. 2016) train with 128. The others (DeViSE, Corr-AE, dual-path) give none for
# this setting and train at the table's (PVSE's) batch size.
BASELINE_BATCH = {"vsepp": 128, "order": 128}

# Assumed throughput on one current datacenter GPU (A100/H100 class, bf16), for the estimate
# only: CNN feature extraction including decoding, and training/validation on cached features.
GPU_FRAMES_PER_S = 2500.0
GPU_TRAIN_PAIRS_PER_S = 6000.0


def paper_datasets() -> dict[str, DatasetRecord]:
    """The catalogued datasets that have paper settings, by their table name."""
    records = (get_dataset(name) for name in list_datasets())
    return {record.paper.table: record for record in records if record.paper}


def targets() -> list[str]:
    """Every target: the tables of the catalogued datasets, then the figures."""
    return [*paper_datasets(), *FIGURES]


class ReproduceError(MRWError):
    pass


@dataclass
class Plan:
    """What one target runs on one dataset: a table of experiments, or sweeps for a figure."""

    target: str
    dataset: DatasetRecord
    experiments: list[Experiment] = dataclasses.field(default_factory=list)
    sweeps: list[SweepSpec] = dataclasses.field(default_factory=list)

    def all_experiments(self) -> list[Experiment]:
        return self.experiments + [e for spec in self.sweeps for _, _, e in spec.experiments()]


def pvse_overrides(dataset: DatasetRecord, **changes: Any) -> dict[str, Any]:
    """PVSE at the paper's settings for `dataset` (its defaults already hold margin and λs)."""
    return {"k": _paper(dataset).k, "margin": 0.1, "div_weight": 0.1, "mmd_weight": 0.01, **changes}


def _paper(dataset: DatasetRecord) -> PaperSettings:
    if dataset.paper is None:
        raise ReproduceError(f"the {dataset.name} dataset has no paper settings to reproduce")
    return dataset.paper


def _own_batch(method: str, table_batch: int) -> dict[str, Any]:
    """A baseline's own paper's batch size where it differs from the table's (PVSE's)."""
    batch = BASELINE_BATCH.get(method, table_batch)
    return {} if batch == table_batch else {"batch_size": batch}


def _with_shared_settings(
    experiment: Experiment, paper: PaperSettings, pvse: Mapping[str, Any]
) -> Experiment:
    """The experiment with the paper's shared settings for the fields its method's config has:
    `max_violation=False` when the paper sums over negatives, `method_settings`, and for PVSE
    `pvse_settings`, then the user's `pvse` fields (`--set`)."""
    from mrw.methods.registry import get_method_class

    fields = {f.name for f in dataclasses.fields(get_method_class(experiment.method).config_class)}
    shared = {**paper.method_settings}
    if experiment.method == "pvse":
        shared.update(paper.pvse_settings)
    if not paper.hardest_negative and "max_violation" not in experiment.overrides:
        shared["max_violation"] = False
    shared = {k: v for k, v in shared.items() if k in fields}
    if experiment.method == "pvse":
        shared.update(pvse)
    return dataclasses.replace(experiment, overrides={**experiment.overrides, **shared})


def _table(dataset: DatasetRecord, pvse: Mapping[str, Any]) -> list[Experiment]:
    """The baselines, PVSE at each of the table's K, and PVSE with diversity on attention.

    Where the table sums over negatives, VSE++ runs as VSE0 ("VSE0 (summed negatives)", its
    paper's baseline) and, when `hardest_negative_rows` names it, also as VSE++ with its
    hardest negative, each label saying which ran.
    """
    paper = _paper(dataset)
    batch = paper.training.batch_size
    # PVSE's rows first, in `table_k` order: an interrupted table has its claim's rows.
    experiments = [
        Experiment("pvse", pvse_overrides(dataset, k=k), f"pvse K={k}")
        for k in paper.table_k or (1, paper.k)
    ]
    for m in BASELINES:
        own = _own_batch(m, batch)
        if m == "vsepp" and not paper.hardest_negative:
            experiments.append(Experiment(m, {}, "VSE0 (summed negatives)", own))
            if m in paper.hardest_negative_rows:
                label = "VSE++ (hardest negative)"
                experiments.append(Experiment(m, {"max_violation": True}, label, own))
        else:
            experiments.append(Experiment(m, {}, m, own))
    if paper.attention_diversity_k is not None:
        k = paper.attention_diversity_k
        overrides = pvse_overrides(dataset, k=k, div_on="attention")
        experiments.append(Experiment("pvse", overrides, f"pvse K={k} div_on=attention"))
    return [_with_shared_settings(e, paper, pvse) for e in experiments]


def make_plan(target: str, dataset: DatasetRecord, pvse: Mapping[str, Any] | None = None) -> Plan:
    """The experiments of `target` (a table or a figure) on `dataset` at its paper's settings.

    Args:
        target: a table (`table2|3|4`, `toy`) or a figure (`fig5|6|7`).
        dataset: the catalogued dataset it runs on.
        pvse: PVSE config fields set on every PVSE run over the paper's (`--set`; e.g. the
            options that restore the reference code's behaviour, `mrw.bench.departures`).

    Raises:
        ReproduceError: an unknown target, or a dataset without paper settings.
    """
    paper = _paper(dataset)
    pvse = dict(pvse or {})
    if target == paper.table:
        return Plan(target, dataset, experiments=_table(dataset, pvse))
    if target in paper_datasets():
        raise ReproduceError(f"{target} is not the {dataset.name} table ({paper.table} is)")
    base = _with_shared_settings(Experiment("pvse", pvse_overrides(dataset)), paper, pvse).overrides
    if target == "fig5":
        return Plan(target, dataset, sweeps=[SweepSpec("k", list(paper.k_grid), base=base)])
    if target == "fig6":
        variants = {FULL_MODEL: {}, **ABLATIONS}
        grid = list(paper.ablation_k_grid)
        return Plan(target, dataset, sweeps=[SweepSpec("k", grid, variants, base=base)])
    if target == "fig7":
        return Plan(
            target,
            dataset,
            sweeps=[
                SweepSpec("div_weight", DIV_GRID, base=base),
                SweepSpec("mmd_weight", MMD_GRID, base=base),
            ],
        )
    raise ReproduceError(f"unknown target {target!r}; choose from {', '.join(targets())}")


def datasets_for(target: str, chosen: str | None) -> list[DatasetRecord]:
    """Tables are tied to one dataset each; figures run on every dataset the paper's figures
    used (`PaperSettings.figures`) unless one is chosen."""
    tables = paper_datasets()
    if target in tables:
        dataset = tables[target]
        if chosen and chosen != dataset.name:
            raise ReproduceError(
                f"{target} is the {dataset.name} table; --dataset {chosen} does not apply"
            )
        return [dataset]
    if chosen:
        record = get_dataset(chosen)
        _paper(record)
        return [record]
    return [record for record in tables.values() if _paper(record).figures]


def paper_options(dataset: DatasetRecord, base: RunOptions) -> RunOptions:
    """The paper's run options for `dataset` (features, frames, batch, epochs); paths, device
    and GloVe come from `base`, and so do epochs when `base` sets them."""
    paper = _paper(dataset).training
    return dataclasses.replace(
        base,
        dataset=dataset.name,
        num_frames=paper.num_frames,
        fps=paper.fps,
        batch_size=paper.batch_size,
        epochs=base.epochs or paper.epochs,
        backbone=paper.backbone,
        weights=paper.weights,
        image_size=paper.image_size,
        # TGIF's paper protocol; image-text sets score all five captions of an image
        one_sentence_per_video=base.one_sentence_per_video
        and dataset.sentences_per_video > 1
        and dataset.modality == "video",
    ).resolved()


def estimate_gpu_hours(plan: Plan, options: RunOptions, seeds: int) -> tuple[float, float]:
    """(feature extraction hours, training hours) on one GPU at the assumed throughputs."""
    paper = _paper(plan.dataset)
    features = paper.videos * paper.training.num_frames / GPU_FRAMES_PER_S
    per_epoch = (paper.train_pairs + paper.eval_pairs) / GPU_TRAIN_PAIRS_PER_S
    runs = len(plan.all_experiments()) * seeds
    return features / 3600, runs * (options.epochs or paper.training.epochs) * per_epoch / 3600


def format_duration(hours: float) -> str:
    return f"{hours * 60:.0f} min" if hours < 1 else f"{hours:.1f} h"


def _pvse_config(plan: Plan) -> Any:
    """The PVSE config of the plan's first PVSE run: its loss and word-vector settings are
    those of every PVSE run of the plan (the runs differ in K or an ablation)."""
    from mrw.methods.registry import make_config

    pvse = next(e for e in plan.all_experiments() if e.method == "pvse")
    return make_config("pvse", pvse.overrides)


def describe(plan: Plan, options: RunOptions, seeds: list[int]) -> str:
    glove = f"from {options.glove}" if options.glove else "NOT given (random word vectors)"
    header = (
        f"{plan.target} on {plan.dataset.name}: T={options.num_frames}, "
        f"paper K={_paper(plan.dataset).k}, "
        f"batch {options.batch_size}, {options.epochs} epochs, "
        f"{options.backbone} ({options.weights}) at {options.image_size}px"
        f"{' (grid cells as local features)' if options.grid else ''}, "
        f"GloVe {glove}, seeds {seeds}"
    )
    lines = [header]
    lines += [f"  protocol card: {card.summary()}" for card in plan_cards(plan, options)]
    width = max((len(e.name) for e in plan.experiments), default=0)
    for e in plan.experiments:
        own = e.run_options(options).resolved(e.method)
        tuned = f" {own.epochs} epochs, patience {own.patience}" if own.tuning else ""
        lines.append(
            f"  {e.name:<{width}} {e.method:<10} lr {own.lr:<7g} batch {own.batch_size:<4}"
            f"{tuned} {dict(e.overrides) or '(its paper defaults)'}"
        )
    for spec in plan.sweeps:
        fixed = {k: v for k, v in spec.base.items() if k != spec.parameter}
        lines.append(
            f"  sweep {spec.parameter} over {spec.values}, curves {', '.join(spec.variants)}, "
            f"fixed {fixed}"
        )
    if plan.dataset.builder is None:  # a paper's dataset (the toy set has no paper to depart from)
        lines.append("  departures from the paper and its reference code (docs/methods.md):")
        lines += [f"    - {line}" for line in departures(plan.dataset, options, _pvse_config(plan))]
    features, training = estimate_gpu_hours(plan, options, len(seeds))
    runs = len(plan.all_experiments()) * len(seeds)
    lines.append(
        f"  {runs} runs; rough GPU time: {format_duration(features)} features "
        "(once, then cached) + "
        f"{format_duration(training)} training on one A100/H100-class GPU "
        f"(assumes {GPU_FRAMES_PER_S:g} frames/s and {GPU_TRAIN_PAIRS_PER_S:g} pairs/s)"
    )
    return "\n".join(lines)


def plan_cards(plan: Plan, options: RunOptions) -> list[ProtocolCard]:
    """The protocol cards of a table's results (`mrw.bench.protocol_cards.planned_cards`);
    none for a figure (its curves plot rsum of the whole split's card, named in its runs)."""
    from mrw.bench.protocol_cards import planned_cards

    return planned_cards(options) if plan.experiments else []


def plan_json(plan: Plan, options: RunOptions, seeds: list[int]) -> dict[str, Any]:
    """A plan as `--dry-run --json` prints it: target, dataset, rows, protocol cards
    (`card_document`s) and the GPU-time estimate in hours."""
    features, training = estimate_gpu_hours(plan, options, len(seeds))
    return {
        "target": plan.target,
        "dataset": plan.dataset.name,
        "rows": [e.name for e in plan.experiments],
        "sweeps": [spec.parameter for spec in plan.sweeps],
        "protocol_cards": [card_document(c) for c in plan_cards(plan, options)],
        "gpu_hours": {"features": features, "training": training},
    }


def execute(
    plan: Plan,
    options: RunOptions,
    seeds: list[int],
    out_dir: Path,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Run the plan and write its table or plots under `out_dir`; returns the files written."""
    from mrw.bench.compare import group_runs, markdown_table, tests_against
    from mrw.bench.experiments import run_experiments
    from mrw.bench.significance import markdown_tests
    from mrw.bench.sweep import run_sweep, write_sweep

    written: list[Path] = []
    if plan.experiments:
        done = run_experiments(plan.experiments, options, seeds, log=log)
        groups = group_runs([r for runs in done for r in runs.records])
        for runs in done:  # rows say what ran: the plan's labels (e.g. "VSE0 (summed negatives)")
            for group in groups:
                if group.runs[0] in runs.records:
                    group.label = runs.experiment.name
        cards = {g.label: g.card for g in groups if g.card is not None}
        if cards:  # one table, one protocol
            require_one_card(cards)
        table = markdown_table(groups, f"{plan.target}: {plan.dataset.name} / {options.split}")
        # Paired tests of every row against PVSE K=1: the paper's claim is K > 1 beats it.
        k1 = next((r for r in done if r.experiment.name == "pvse K=1"), None)
        reference = next((g for g in groups if k1 and g.runs[0] in k1.records), None)
        if reference is not None:
            table += "\n" + markdown_tests(tests_against(groups, reference))
        path = out_dir / f"{plan.target}-{plan.dataset.name}.md"
        with atomic_write(path, "w") as handle:
            handle.write(table)
        log(table)
        written.append(path)
    for spec in plan.sweeps:
        result = run_sweep(spec, options, seeds, log=log)
        paths = write_sweep(result, out_dir / f"{plan.target}-{plan.dataset.name}")
        log(result.table)
        written += list(paths.values())
    return written
