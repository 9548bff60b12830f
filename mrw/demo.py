"""`python -m mrw.demo` (what `make demo` runs): the longest offline pipeline, stage by stage.

The demo is a list of named stages sharing a `DemoContext`; each stage reads what earlier
stages left in `ctx.state` and returns a one-line summary. To extend the demo (training,
comparing methods, scoring), write a function `stage(ctx) -> str` and add a `Stage` to
`STAGES` after the ones it depends on. Everything is written under `--out` (`demo-out/`),
with `summary.json` recording each stage's time and summary plus the versions used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrw.core.atomic import atomic_write
from mrw.core.provenance import versions

CONTACT_SHEET_CLIPS = 6


@dataclass
class DemoContext:
    """What the stages share: the output folder, the settings and results of earlier stages."""

    out_dir: Path
    num_pairs: int = 1500
    seed: int = 0
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    name: str
    run: Callable[[DemoContext], str]


def build_toy_stage(ctx: DemoContext) -> str:
    from mrw.toy.video import ToyConfig, build_toy

    ctx.state["dataset"] = build_toy(
        ctx.out_dir / "toy", num_pairs=ctx.num_pairs, seed=ctx.seed, progress=True
    )
    sizes = ToyConfig(ctx.num_pairs, ctx.seed).split_sizes()
    return f"{ctx.state['dataset']} ({', '.join(f'{k} {v}' for k, v in sizes.items())})"


def load_stage(ctx: DemoContext) -> str:
    """Decode a few batches through a DataLoader, as a training loop would; export qrels."""
    import torch

    from mrw.dataset import collate, export_qrels, load_dataset

    train = load_dataset(ctx.state["dataset"], split="train", num_frames=8, fps=8.0)
    loader = torch.utils.data.DataLoader(train, batch_size=32, num_workers=2, collate_fn=collate)
    start, clips = time.perf_counter(), 0
    for index, batch in enumerate(loader):
        clips += len(batch["id"])
        if index == 3:
            break
    rate = clips / (time.perf_counter() - start)
    ctx.state["qrels"] = export_qrels(ctx.state["dataset"], "test", ctx.out_dir / "qrels" / "test")
    shape = list(batch["frames"].shape)
    return f"frames {shape} uint8 per batch, {rate:.0f} clips/s incl. worker start; qrels written"


def stats_stage(ctx: DemoContext) -> str:
    from rich.console import Console

    from mrw.dataset.stats import compute_stats, plot_lengths, read_metadata, render_table

    rows = read_metadata(ctx.state["dataset"])
    stats = compute_stats(ctx.state["dataset"], rows=rows)
    Console(file=sys.stderr).print(render_table(stats))
    with atomic_write(ctx.out_dir / "stats.json", "w") as handle:
        json.dump(stats.to_dict(), handle, indent=2)
    plot_lengths(rows, ctx.out_dir / "lengths.png", "toy set")
    return f"vocabulary {stats.total.vocabulary}, {stats.total.avg_words:.2f} words/sentence"


def frame_strip(frames: Any, gap: int = 3) -> Any:
    """uint8 frames `[T, 3, H, W]` side by side as `[3, H, T*W + (T-1)*gap]`, with `gap`
    white columns between frames so each frame reads as its own."""
    import torch

    count, channels, height, _ = frames.shape
    white = torch.full((channels, height, gap), 255, dtype=frames.dtype)
    parts = []
    for index, frame in enumerate(frames):
        parts += [frame] if index == 0 else [white, frame]
    return torch.cat(parts, dim=2) if count else frames.new_zeros((channels, height, 0))


def contact_sheet_stage(ctx: DemoContext) -> str:
    """A PNG of the first test clips, 8 frames at 8 fps each, captioned with their sentence."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from mrw.dataset import load_dataset

    test = load_dataset(ctx.state["dataset"], split="test", num_frames=8, fps=8.0)
    rows = [test[i] for i in range(min(CONTACT_SHEET_CLIPS, test.num_rows))]
    figure, axes = plt.subplots(len(rows), 1, figsize=(9, 1.45 * len(rows)), squeeze=False)
    for axis, row in zip(axes[:, 0], rows, strict=True):
        strip = frame_strip(row["frames"]).permute(1, 2, 0).numpy()
        axis.imshow(strip, interpolation="nearest")
        times = ", ".join(f"{t:.3g}" for t in row["timestamps"].tolist())
        axis.set_title(f"{row['sentence']!r}   (t = {times} s)", fontsize=8, loc="left")
        axis.axis("off")
    figure.tight_layout()
    path = ctx.out_dir / "contact_sheet.png"
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=100, metadata={"Software": None})
    plt.close(figure)
    return str(path)


def _toy_table_runs(ctx: DemoContext, experiments: Sequence[Any]) -> list[Any]:
    """Train (or reuse) `experiments` at the README toy table's settings, for the demo's seed."""
    import dataclasses
    import functools

    from mrw.bench.experiments import run_experiments
    from mrw.bench.options import RunOptions

    toy_defaults = RunOptions(
        dataset="toy", runs_dir=str(ctx.out_dir / "runs"), seed=ctx.seed
    ).resolved()
    options = dataclasses.replace(
        toy_defaults, dataset=str(ctx.state["dataset"])
    )  # the demo's own toy folder
    log = functools.partial(print, file=sys.stderr, flush=True)
    return run_experiments(experiments, options, [ctx.seed], log=log)


def _demo_rows() -> list[Any]:
    """The toy table's rows the demo trains, untuned at each method's default learning rate
    and one seed: the baselines (VSE0 and VSE++ both), PVSE K=1 and PVSE K=3 (one head per
    kind of moment); K=0, K=5 and the tuned 5-seed table are `mrw-bench tune` and
    `reproduce toy` (docs/results.md), to stay within 10 minutes on 2 cores."""
    from mrw.bench.reproduce import make_plan
    from mrw.catalog import get_dataset

    rows = make_plan("toy", get_dataset("toy")).experiments
    return [e for e in rows if e.method != "pvse" or e.overrides["k"] in (1, 3)]


def train_pvse_stage(ctx: DemoContext) -> str:
    """PVSE (K=3) on the toy set, as `mrw-bench reproduce toy` trains it: features, training,
    evaluation, run record (with the init-time PIE-Net check). The compare stage reuses it."""
    from rich.console import Console

    from mrw.bench.report import metrics_table

    pvse = next(e for e in _demo_rows() if e.method == "pvse" and e.overrides["k"] > 1)
    (runs,) = _toy_table_runs(ctx, [pvse])
    record = runs.records[0]
    Console(file=sys.stderr, width=140).print(
        metrics_table([(pvse.name, record.metrics)], title="PVSE on the toy set (test)")
    )
    chance = 2 * 100 * (1 + 5 + 10) / record.metrics.t2v.queries
    video = record.init_check["video"]
    return (
        f"test rsum {record.metrics.rsum:.1f} (chance {chance:.1f}); PIE-Net at init: "
        f"attention entropy {video['entropy']:.2f} of log T {video['max_entropy']:.2f}, "
        f"head TV distance {video['head_tv']:.2f}; {record.run_dir}"
    )


def _pvse_label(groups: Sequence[Any], k: int) -> str:
    """The compare label of the PVSE row with `k` heads and the paper's diversity term."""
    return next(
        g.label
        for g in groups
        if g.method == "pvse"
        and g.settings.get("method_config.k") == k
        and g.settings.get("method_config.div_on", "residual") == "residual"
    )


def compare_methods_stage(ctx: DemoContext) -> str:
    """PVSE K=1, K=3 and the baselines on the same features (the toy table's rows, one seed,
    untuned), with paired tests over test pairs of every row against PVSE K=1 and K=3."""
    from mrw.bench.compare import compare_runs, write_outputs
    from mrw.bench.significance import format_p
    from mrw.toy.ceiling import Bounds, bounds
    from mrw.toy.video import ToyConfig

    _toy_table_runs(ctx, _demo_rows())
    comparison = ctx.state["comparison"] = compare_runs([ctx.out_dir / "runs"])
    k1, k3 = (_pvse_label(comparison.groups, k) for k in (1, 3))
    comparison.add_tests([k1, k3])
    write_outputs(comparison, ctx.out_dir / "compare.md", ctx.out_dir / "compare.json")
    print(comparison.to_markdown(), file=sys.stderr)
    ceiling = Bounds.rsum(bounds(ToyConfig(ctx.num_pairs, ctx.seed), "test").ceiling)
    best = max(comparison.groups, key=lambda g: g.stats["rsum"].mean)
    claim = next(t for t in comparison.tests if (t.a, t.b) == (k3, k1))
    return (
        f"{len(comparison.groups)} methods compared (compare.md); best rsum: {best.label} "
        f"{best.stats['rsum'].mean:.1f}; PVSE K=3 - K=1: {claim.mean_diff:+.1f} rsum "
        f"(paired t over test pairs p={format_p(claim.p_queries[0])}); the toy set's ceiling is "
        f"{ceiling:.1f} (mrw toy --ceiling)"
    )


def leaderboard_stage(ctx: DemoContext) -> str:
    """Submit every compared run's ranking files, with its protocol card, to a board and render
    it, as participants would.

    The scorer reads only the run files and the exported test qrels, yet must give each run
    the metrics its harness record holds: one scoring path, checked end to end.
    """
    from leaderboard.board import submit
    from leaderboard.render import render

    board = ctx.out_dir / "leaderboard" / "board.db"
    board.unlink(missing_ok=True)
    truth = ctx.state["qrels"]["t2v"].parent
    runs = [(group.label, run) for group in ctx.state["comparison"].groups for run in group.runs]
    for label, run in runs:
        submission = submit(
            board,
            truth,
            run.run_dir / "t2v.run.gz",
            run.run_dir / "v2t.run.gz",
            name=label,
            team="demo",
            description=f"seed {run.seed}",
            dataset="toy",
            split=run.split,
            protocol_card=run.protocol_card,
        )
        if submission.metrics != run.metrics:
            raise RuntimeError(f"{run.run_dir}: the scorer and the harness disagree")
    pages = render(board, board.parent)
    return (
        f"{len(runs)} runs scored from their run files, metrics identical to the harness; "
        f"{pages['index.html']}"
    )


HEADLINE = Path(__file__).resolve().parents[1] / "docs" / "results-headline.json"
"""The tuned comparison's headline, stored when docs/results.md's table was made."""


def headline_stage(ctx: DemoContext) -> str:
    """The stored headline of the tuned, 5-seed comparison (docs/results.md): it takes about
    an hour to run, so the demo quotes it, labelled as stored, instead of training it."""
    if not HEADLINE.is_file():
        return "the tuned comparison: see docs/results.md"
    stored = json.loads(HEADLINE.read_text(encoding="utf-8"))
    lines = [f"STORED RESULT, not rerun by the demo ({stored['command']}):"]
    for table in stored["tables"]:
        lines.append(
            f"  {table['dataset']} ({table['seeds']} seeds, every row tuned by `mrw-bench tune`): "
            f"{', '.join(table['rows'])}"
        )
        lines.append(
            f"    PVSE K=3 - K=1 = {table['k3_minus_k1']:+.1f} rsum, paired t over seeds "
            f"p = {table['p_seeds']}: {table['decision']}; best row {table['best']}; "
            f"headroom (max - mean reader) {table['headroom']:+.1f}"
        )
    lines.append(f"  plan, tables and reading: {stored['docs']}")
    return "\n".join(lines)


STAGES: list[Stage] = [
    Stage("build the toy set", build_toy_stage),
    Stage("load with decoded frames", load_stage),
    Stage("dataset statistics", stats_stage),
    Stage("contact sheet of decoded clips", contact_sheet_stage),
    Stage("train PVSE on the toy set", train_pvse_stage),
    Stage("compare methods", compare_methods_stage),
    Stage("score the runs on a leaderboard", leaderboard_stage),
    Stage("headline of the tuned comparison", headline_stage),
]


def run_demo(ctx: DemoContext, stages: Sequence[Stage] = STAGES) -> list[dict[str, Any]]:
    """Run the stages in order, printing progress; writes `summary.json` after each stage."""
    ctx.out_dir.mkdir(parents=True, exist_ok=True)
    record: list[dict[str, Any]] = []
    total = time.perf_counter()
    for number, stage in enumerate(stages, 1):
        print(f"[{number}/{len(stages)}] {stage.name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        summary = stage.run(ctx)
        seconds = time.perf_counter() - start
        print(f"[{number}/{len(stages)}] {stage.name}: {summary} ({seconds:.1f} s)", flush=True)
        record.append({"stage": stage.name, "seconds": round(seconds, 2), "summary": summary})
        with atomic_write(ctx.out_dir / "summary.json", "w") as handle:
            json.dump(
                {
                    "num_pairs": ctx.num_pairs,
                    "seed": ctx.seed,
                    "versions": versions(),
                    "stages": record,
                },
                handle,
                indent=2,
            )
    print(f"demo finished in {time.perf_counter() - total:.1f} s; outputs in {ctx.out_dir}/")
    return record


def main(argv: Sequence[str] | None = None) -> int:
    from mrw.core.cliutil import run_main

    parser = argparse.ArgumentParser(
        prog="python -m mrw.demo",
        description="Run the offline demo pipeline on the toy set: "
        + "; ".join(stage.name for stage in STAGES)
        + ".",
    )
    parser.add_argument("--out", type=Path, default=Path("demo-out"), help="output folder")
    parser.add_argument("--num-pairs", type=int, default=1500, help="toy set size (default 1500)")
    parser.add_argument("--seed", type=int, default=0, help="toy set seed (default 0)")
    args = parser.parse_args(argv)
    ctx = DemoContext(args.out, args.num_pairs, args.seed)
    return run_main(lambda: run_demo(ctx) and 0)


if __name__ == "__main__":
    raise SystemExit(main())
