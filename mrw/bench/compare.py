"""`mrw-bench compare RUNS...`: run records -> the paper's results table, mean ± std over seeds.

Runs are grouped by dataset, evaluated split, method and every setting except the seed (and
bookkeeping such as the run id or device), so repeated seeds of one experiment become one
row. Rows hold the PVSE paper's Tables 3 and 4 columns, R@1, R@5, R@10 and MedR (nMR) per
direction plus rsum, with text-to-video first as on the leaderboard and in every JSON
document (the paper lists video-to-text first). Beneath each table, paired tests
(`mrw.bench.significance`) of every row against a reference row (`--against`, default the
best) give p-values over seeds and over test pairs. The standard deviation is the sample
one (ddof = 1) over seeds; with a single seed only the value is shown.

Results are comparable only under one protocol card (`mrw.core.protocol`): runs are tabled by
dataset, split and card hash, every table headed by its card's summary (and, beside another
table of the same dataset and split, the card fields in which they differ); runs without a card
(records written before cards) form a table of their own, and paired tests never cross cards.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from leaderboard.metrics import DIRECTION_NAMES, DIRECTIONS, RECALL_KS, Bound, Metrics
from leaderboard.render import markdown_text
from mrw.bench.identity import experiment_hash, experiment_settings, flatten
from mrw.bench.record import RunRecord, RunRecordError
from mrw.bench.setaware_columns import set_aware_cells, summarise_set_aware
from mrw.bench.significance import PairedTest, markdown_tests, pair_scores, paired_t_p
from mrw.core.atomic import atomic_write, check_output_file, file_starts_with
from mrw.core.errors import MRWError
from mrw.core.protocol import ProtocolCard, card_document, require_one_card

IMAGE_DIRECTION_NAMES = {"t2v": "Text → Image", "v2t": "Image → Text"}
RECALLS = tuple(f"R@{k}" for k in RECALL_KS)


class CompareError(MRWError):
    """No finished run records where the user pointed, or records that cannot be averaged."""


@dataclass
class Stat:
    """Mean and sample standard deviation (None for a single value) of one metric."""

    mean: float
    std: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Stat:
        n = len(values)
        mean = sum(values) / n
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else None
        return cls(mean, std)

    def format(self, digits: int) -> str:
        text = f"{self.mean:.{digits}f}"
        return text if self.std is None else f"{text} ± {self.std:.{digits}f}"


@dataclass
class RunGroup:
    """Runs of one experiment (same everything but the seed), summarised."""

    dataset: str
    split: str
    method: str
    settings: dict[str, Any]  # `mrw.bench.identity.experiment_settings` of its runs
    runs: list[RunRecord]
    label: str = ""
    stats: dict[str, Any] = field(default_factory=dict)
    card: ProtocolCard | None = None  # the runs' protocol card (one per group)

    @property
    def card_hash(self) -> str:
        """The card's hash, "" for runs without a card."""
        return self.card.card_hash if self.card else ""

    @property
    def seeds(self) -> list[int]:
        return sorted(run.seed for run in self.runs)

    @property
    def training_data(self) -> str:
        """The runs' training-data declaration (`RunRecord.training_data`; the seeds of one
        experiment share it)."""
        return " / ".join(dict.fromkeys(run.training_data for run in self.runs))

    @property
    def key(self) -> str:
        """The experiment's hash (`mrw.bench.identity.experiment_hash`)."""
        return experiment_hash(self.settings)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "method": self.method,
            "dataset": self.dataset,
            "split": self.split,
            "seeds": self.seeds,
            "training_data": self.training_data,
            "runs": [str(run.run_dir) for run in self.runs],
            "method_config": {
                k.removeprefix("method_config."): v
                for k, v in self.settings.items()
                if k.startswith("method_config.")
            },
            **{name: _stats_json(value) for name, value in self.stats.items()},
            **_beside_json(self.runs),
        }


def _beside_json(runs: list[RunRecord]) -> dict[str, Any]:
    """The results reported beside the raw ones, per run (never ranked with them):
    `multi_positive` (each run's multi-positive metrics, with their card) and `postprocessed`
    (per post-processing label, each run's entry as `metrics.json` stores it)."""
    multi = [
        {
            "run": str(run.run_dir),
            "metrics": run.metrics_multi_positive.to_json(),
            "protocol_card": card_document(run.multi_positive_card)
            if run.multi_positive_card
            else None,
        }
        for run in runs
        if run.metrics_multi_positive is not None
    ]
    post: dict[str, list[dict[str, Any]]] = {}
    for run in runs:
        for label, entry in (run.postprocessed or {}).items():
            post.setdefault(label, []).append({"run": str(run.run_dir), **entry})
    return {"multi_positive": multi, "postprocessed": post}


def _stats_json(value: Any) -> Any:
    if isinstance(value, Stat):
        return dataclasses.asdict(value)
    if isinstance(value, Mapping):
        return {k: _stats_json(v) for k, v in value.items()}
    return value


def find_run_dirs(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(finished run folders, unfinished ones) under `paths`; a path may itself be a run.

    Hidden folders (temporary or replaced outputs) are never entered.
    """
    finished: set[Path] = set()
    unfinished: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise CompareError(f"{root}: no such file or directory")
        for marker in root.rglob("config.json"):
            run_dir = marker.parent
            if not marker.is_file() or any(
                part.startswith(".") for part in run_dir.relative_to(root).parts
            ):
                continue
            (finished if (run_dir / "metrics.json").is_file() else unfinished).add(run_dir)
    return sorted(finished), sorted(unfinished)


def _numeric(record: RunRecord, metrics: Metrics, direction: str, name: str) -> float:
    value = metrics.direction(direction).value(name) if direction else metrics.rsum
    if value is None or isinstance(value, Bound):
        raise CompareError(
            f"{record.run_dir}: {direction} {name} is {value!r}, not a number "
            "(a truncated run cannot be averaged)"
        )
    return float(value)


def summarise(runs: Sequence[RunRecord]) -> dict[str, Any]:
    """Mean ± std of each table metric over `runs` (the seeds of one experiment); under
    "folds" the same for the fold protocol (COCO 1K) when every run has it; under
    "set_aware" the head-usage summary of runs with K > 1, else None
    (`mrw.bench.setaware_columns.summarise_set_aware`)."""
    out = _summary([r.metrics for r in runs], runs)
    if runs and all(r.folds for r in runs):
        out["folds"] = _summary([Metrics.from_json(r.folds["metrics"]) for r in runs], runs)
    out["set_aware"] = summarise_set_aware(runs, Stat.of)
    return out


def _summary(documents: Sequence[Metrics], runs: Sequence[RunRecord]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for direction in DIRECTIONS:
        out[direction] = {
            name: Stat.of(
                [_numeric(r, d, direction, name) for r, d in zip(runs, documents, strict=True)]
            )
            for name in (*RECALLS, "MedR", "nMR")
        }
    out["rsum"] = Stat.of(
        [_numeric(r, d, "", "rsum") for r, d in zip(runs, documents, strict=True)]
    )
    return out


def _method_defaults(method: str) -> dict[str, Any]:
    from mrw.methods.registry import UnknownMethodError, get_method_class

    try:
        config_class = get_method_class(method).config_class
    except UnknownMethodError:
        return {}
    return flatten(dataclasses.asdict(config_class()), "method_config.")


def chance_rsum(metrics: Metrics) -> float:
    """Expected rsum of a random ranking.

    Text-to-video ranks the videos (as many as video queries): R@k = k / videos. Video-to-text
    ranks the sentences, each video having sentences / videos of them (5 captions per COCO
    image; 1 for MRW, where this is k / sentences): R@k = 1 - C(S - r, k) / C(S, k), the
    chance that a random top k holds one of the r. With an uneven number per video (TGIF)
    r is the rounded mean, so the figure is approximate there.
    """
    videos, sentences = int(metrics.v2t.queries), int(metrics.t2v.queries)
    if not videos or not sentences:
        return 0.0
    per_video = max(1, round(sentences / videos))
    t2v = sum(100.0 * min(k, videos) / videos for k in RECALL_KS)
    # A top k longer than the gallery holds everything (math.comb is 0 for k > n).
    v2t = sum(
        100.0 * (1 - math.comb(sentences - per_video, k) / math.comb(sentences, k))
        if k <= sentences
        else 100.0
        for k in RECALL_KS
    )
    return t2v + v2t


def _label(group: RunGroup) -> str:
    """The method plus the config fields that differ from its defaults, e.g. `pvse (k=1)`;
    `vsepp` summing over negatives is named for what ran: `VSE0 (summed negatives)`."""
    defaults = _method_defaults(group.method)
    name = group.method
    if name == "vsepp" and group.settings.get("method_config.max_violation") is False:
        name, defaults = (
            "VSE0 (summed negatives)",
            {k: v for k, v in defaults.items() if k != "method_config.max_violation"},
        )
    changed = [
        _setting(k.removeprefix("method_config."), v)
        for k, v in sorted(group.settings.items())
        if k.startswith("method_config.") and k in defaults and defaults[k] != v
    ]
    if not changed:
        return name
    return (
        f"{name[:-1]}; {', '.join(changed)})"
        if name.endswith(")")
        else (f"{name} ({', '.join(changed)})")
    )


def _setting(name: str, value: Any) -> str:
    """`name=value` for a label; an unset value (None: no early stopping, no tuning, a field
    older records lack) reads `no name`, never `name=None`."""
    return f"no {name}" if value is None else f"{name}={value}"


def _disambiguate(groups: list[RunGroup]) -> None:
    """Groups that share a label get the settings that tell them apart appended."""
    by_label: dict[str, list[RunGroup]] = {}
    for group in groups:
        by_label.setdefault(group.label, []).append(group)
    for same in by_label.values():
        if len(same) < 2:
            continue
        keys = sorted(
            {k for g in same for k in g.settings}
            - {
                k
                for k in same[0].settings
                if all(g.settings.get(k) == same[0].settings[k] for g in same)
            }
        )
        short = {
            k.split(".")[-1]: k for k in reversed(keys)
        }  # "options.epochs" and "train.epochs" -> one
        for group in same:
            extra = ", ".join(
                _setting(name, group.settings.get(k)) for name, k in sorted(short.items())[:3]
            )
            group.label = f"{group.label} [{extra or group.key}]"


def group_runs(records: Iterable[RunRecord]) -> list[RunGroup]:
    """Runs -> one summarised group per experiment, best rsum first within each dataset/split."""
    groups: dict[tuple[str, str, str, str, str], RunGroup] = {}
    for record in records:
        config = record.config
        settings = experiment_settings(
            record.method, config.get("method_config") or {}, config.get("options") or {}
        )
        card = record.protocol_card
        key = (
            record.dataset,
            record.split,
            card.card_hash if card else "",
            record.method,
            experiment_hash(settings),
        )
        if key not in groups:
            groups[key] = RunGroup(
                record.dataset, record.split, record.method, settings, [], card=card
            )
        groups[key].runs.append(record)
    ordered = list(groups.values())
    for group in ordered:
        group.label = _label(group)
        group.stats = summarise(group.runs)
    _disambiguate(ordered)
    ordered.sort(key=lambda g: (g.dataset, g.split, g.card_hash, -g.stats["rsum"].mean, g.label))
    return ordered


@dataclass
class Comparison:
    groups: list[RunGroup]
    unfinished: list[Path]
    tests: list[PairedTest] = field(default_factory=list)  # paired significance
    tuning_trials: list[Path] = field(default_factory=list)  # left out (`mrw.bench.tune`)

    def add_tests(self, against: Sequence[str] = ()) -> None:
        """Paired tests of every row against each `against` row (by label, or a unique part
        of one); by default against each table's best row."""
        references = [find_group(self.groups, label) for label in against] or [
            rows[0] for rows in self.tables().values()
        ]
        self.tests = [t for ref in references for t in tests_against(self.groups, ref)]

    def tables(self) -> dict[tuple[str, str, str], list[RunGroup]]:
        """The rows of each table: `(dataset, split, card hash or "")` -> groups."""
        out: dict[tuple[str, str, str], list[RunGroup]] = {}
        for group in self.groups:
            out.setdefault((group.dataset, group.split, group.card_hash), []).append(group)
        return out

    def card_notes(self) -> dict[tuple[str, str, str], list[str]]:
        """Per table, what tells its card apart from the other tables of its dataset and
        split: "differs from card X in: field, ..." (empty for a table alone there)."""
        tables = self.tables()
        notes: dict[tuple[str, str, str], list[str]] = {key: [] for key in tables}
        for key, rows in tables.items():
            for other_key, other_rows in tables.items():
                if other_key == key or other_key[:2] != key[:2]:
                    continue
                card, other = rows[0].card, other_rows[0].card
                if card is None or other is None:
                    what = "runs without a protocol card" if other is None else "a protocol card"
                    notes[key].append(f"not ranked with the table of {what}")
                else:
                    fields = ", ".join(card.differing_fields(other))
                    notes[key].append(f"differs from card {other.card_id} in: {fields}")
        return notes

    def copy_notes(self) -> dict[tuple[str, str, str], list[str]]:
        """Per table, a warning when its runs used more than one prepared copy of the dataset
        (`dataset_copy_note`; empty when they used one, or the records do not say)."""
        return {
            key: [note] if (note := dataset_copy_note(rows)) else []
            for key, rows in self.tables().items()
        }

    def to_json(self) -> dict[str, Any]:
        notes = self.card_notes()
        copies = self.copy_notes()
        return {
            "tables": [
                {
                    "dataset": dataset,
                    "split": split,
                    "protocol_card": card_document(rows[0].card) if rows[0].card else None,
                    "fold_protocol_card": _fold_card_document(rows),
                    "card_notes": notes[(dataset, split, card_hash)],
                    "dataset_copy_notes": copies[(dataset, split, card_hash)],
                    "chance_rsum": chance_rsum(rows[0].runs[0].metrics),
                    "rows": [g.to_json() for g in rows],
                }
                for (dataset, split, card_hash), rows in self.tables().items()
            ],
            "paired_tests": [t.to_json() for t in self.tests],
            "unfinished_runs": [str(p) for p in self.unfinished],
            "tuning_runs_left_out": [str(p) for p in self.tuning_trials],
        }

    def to_markdown(self) -> str:
        notes, copies = self.card_notes(), self.copy_notes()
        parts = [
            markdown_table(rows, f"{dataset_label(key[0])} / {key[1]}", notes[key])
            + "".join(f"\n**Warning:** {markdown_text(note)}\n" for note in copies[key])
            for key, rows in self.tables().items()
        ]
        if self.tests:
            parts.append(markdown_tests(self.tests))
        if self.unfinished:
            parts.append(
                f"_{len(self.unfinished)} unfinished run(s) left out (no metrics.json)._\n"
            )
        if self.tuning_trials:
            parts.append(f"_{_tuning_note(len(self.tuning_trials))}._\n")
        return "\n".join(parts)


def dataset_copy_note(groups: Sequence[RunGroup]) -> str | None:
    """A warning when the runs of one table used more than one prepared copy of the dataset,
    naming how many copies and which runs used each; None when they used one (runs whose
    record has no `dataset_revision`, e.g. a dataset folder, are not counted).

    A protocol card identifies the truth by its qrels ids (`truth_sha256`), not by the media or
    the sentence text, so one card can cover copies prepared differently (e.g. by an older
    toy generator under the same catalogue version); the record's
    `dataset_revision["fingerprint"]` (`mrw.bench.record.dataset_revision`) tells them apart.
    """
    copies: dict[str, list[str]] = {}
    for run in (run for group in groups for run in group.runs):
        if run.dataset_revision and run.dataset_revision.get("fingerprint"):
            copies.setdefault(run.dataset_revision["fingerprint"], []).append(str(run.run_dir))
    if len(copies) < 2:
        return None
    which = "; ".join(f"{fp[:12]}: {', '.join(runs)}" for fp, runs in sorted(copies.items()))
    return (
        f"these runs used {len(copies)} different prepared copies of the dataset under one "
        f"protocol card (dataset_revision fingerprints; the card fixes only the qrels ids, "
        f"the media or sentences may differ), averaged together: {which}"
    )


def _fold_card_document(groups: Sequence[RunGroup]) -> dict[str, Any] | None:
    """The fold metrics' card of a table whose rows all have fold metrics (else None)."""
    card = groups[0].runs[0].fold_card if all("folds" in g.stats for g in groups) else None
    return card_document(card) if card else None


def card_heading(groups: Sequence[RunGroup], notes: Sequence[str] = ()) -> list[str]:
    """The lines under a table's title naming its protocol card (the fold block's too), and
    `notes` on how it differs from the other tables of its dataset and split."""
    card = groups[0].card
    if card is None:
        lines = ["Protocol card: none (run records written before protocol cards)."]
    else:
        lines = [f"Protocol card: {markdown_text(card.summary())}."]
    fold_card = groups[0].runs[0].fold_card if _fold_card_document(groups) else None
    if fold_card is not None:
        lines.append(f"Fold block's card: {markdown_text(fold_card.summary())}.")
    lines += [f"Not comparable with another table here: {markdown_text(n)}." for n in notes]
    return lines


def markdown_table(groups: Sequence[RunGroup], title: str, notes: Sequence[str] = ()) -> str:
    """One Markdown table, the paper's columns; the best mean of each column in bold; last,
    each row's training-data declaration (zero-shot, fine-tuned, pretraining with unknown
    overlap), the way MTEB marks zero-shot models. When a row has K > 1 embeddings, the
    set-aware columns (`mrw.bench.setaware_columns.set_aware_cells`) come before it.

    Image-text sets name the directions Image-to-Text and Text-to-Image; with fold metrics
    (COCO) the table has Table 2's layout: the 1K block (mean over folds), then the whole
    test split (5K), each with both directions, and rsum of each.
    """
    names = IMAGE_DIRECTION_NAMES if _is_image(groups) else DIRECTION_NAMES
    blocks = [("", None)]
    if all("folds" in g.stats for g in groups):
        folds = groups[0].runs[0].folds
        whole = folds["folds"] * folds["fold_size"]
        blocks = [(f"{_images(folds['fold_size'])} ", "folds"), (f"{_images(whole)} ", None)]
    header = ["Method", "Seeds"]
    for prefix, _ in blocks:
        for direction in DIRECTIONS:
            header += [f"{prefix}{names[direction]} R@1", "R@5", "R@10", "MedR (nMR)"]
        header.append(f"{prefix}rsum")
    header.append("Training data")

    def bold(text: str, is_best: bool) -> str:
        return f"**{text}**" if is_best and len(groups) > 1 else text

    rows = [[markdown_text(g.label), str(len(g.runs))] for g in groups]
    for _, key in blocks:
        stats_of = [g.stats[key] if key else g.stats for g in groups]
        for direction in DIRECTIONS:
            for r in RECALLS:
                best = max(s[direction][r].mean for s in stats_of)
                for row, s in zip(rows, stats_of, strict=True):
                    row.append(bold(s[direction][r].format(2), s[direction][r].mean == best))
            best = min(s[direction]["MedR"].mean for s in stats_of)
            for row, s in zip(rows, stats_of, strict=True):
                medr = f"{s[direction]['MedR'].format(1)} ({s[direction]['nMR'].mean:.2f})"
                row.append(bold(medr, s[direction]["MedR"].mean == best))
        best = max(s["rsum"].mean for s in stats_of)
        for row, s in zip(rows, stats_of, strict=True):
            row.append(bold(s["rsum"].format(1), s["rsum"].mean == best))
    set_aware = set_aware_cells([g.stats.get("set_aware") for g in groups])
    if set_aware is not None:
        header[-1:-1] = set_aware[0]
        for row, cells in zip(rows, set_aware[1], strict=True):
            row += cells
    for row, group in zip(rows, groups, strict=True):
        row.append(markdown_text(group.training_data))
    lines = [f"**{title}**", "", *card_heading(groups, notes), ""]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    lines += ["", f"Random ranking: rsum ≈ {chance_rsum(groups[0].runs[0].metrics):.1f}."]
    return "\n".join(lines) + "\n"


def _is_image(groups: Sequence[RunGroup]) -> bool:
    return all(g.runs[0].config.get("visual") == "image" for g in groups)


def _images(count: int) -> str:
    """1000 -> "1K" (Table 2's column names), other counts as they are."""
    return f"{count // 1000}K" if count % 1000 == 0 else str(count)


def dataset_label(dataset: str) -> str:
    """How tables name a dataset: a named one (`toy`) by its name, a folder by its own name
    (as the leaderboard names it), never by a whole path."""
    return Path(dataset).name or dataset


def compare_runs(paths: Iterable[str | Path], include_tuning: bool = False) -> Comparison:
    """Find, load, group and summarise the finished run records under `paths`; the grid
    points of `mrw-bench tune` (`mrw.bench.tune.is_trial`) only with `include_tuning`.

    Raises:
        CompareError: no finished run record to show, or one that cannot be read.
    """
    from mrw.bench.tune import is_trial

    finished, unfinished = find_run_dirs(paths)
    if not finished:
        hint = f" ({len(unfinished)} unfinished)" if unfinished else ""
        raise CompareError(f"no finished run records (metrics.json) found{hint}")
    records = []
    for run_dir in finished:
        try:
            records.append(RunRecord.from_disk(run_dir))
        except RunRecordError as exc:
            raise CompareError(str(exc)) from None
    trials = [] if include_tuning else [r for r in records if is_trial(r.config)]
    shown = [r for r in records if include_tuning or not is_trial(r.config)]
    if not shown:
        raise CompareError(f"no finished run records to show ({_tuning_note(len(trials))})")
    return Comparison(group_runs(shown), unfinished, tuning_trials=[r.run_dir for r in trials])


def _tuning_note(count: int) -> str:
    return f"{count} tuning run(s) of mrw-bench tune left out; --include-tuning shows them"


_MARKDOWN_MARK = b"| Method | Seeds |"
_JSON_START = b'{\n  "tables": ['


def _is_markdown_output(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return _MARKDOWN_MARK in handle.read(1 << 16)
    except OSError:
        return False


def check_outputs(markdown: str | Path | None, json_path: str | Path | None) -> None:
    """Refuse, before any work, output paths holding anything but an earlier compare output."""
    if markdown:
        check_output_file(markdown, _is_markdown_output)
    if json_path:
        check_output_file(json_path, lambda path: file_starts_with(path, _JSON_START))


def write_outputs(
    comparison: Comparison,
    markdown: str | Path | None,
    json_path: str | Path | None,
    beside: str = "",
) -> None:
    """Write the comparison's Markdown (its tables, then `beside`: the tables printed after
    them, e.g. multi-positive and post-processed rows) and JSON documents, atomically."""
    if markdown:
        with atomic_write(markdown, "w") as handle:
            handle.write(comparison.to_markdown() + (f"\n{beside}" if beside else ""))
    if json_path:
        with atomic_write(json_path, "w") as handle:
            json.dump(comparison.to_json(), handle, indent=2)
            handle.write("\n")


def paired_test(a: RunGroup, b: RunGroup) -> PairedTest:
    """Test group `a` against group `b` on the seeds both have.

    Raises:
        mrw.core.protocol.ProtocolCardError: the groups' runs have different protocol cards
            (the message names the differing fields).
    """
    if a.card is not None and b.card is not None:
        require_one_card({f"{g.label} (card {g.card.card_id})": g.card for g in (a, b)})
    runs_a = {run.seed: run for run in a.runs}
    runs_b = {run.seed: run for run in b.runs}
    seeds = sorted(runs_a.keys() & runs_b.keys())
    diffs, p_queries = [], []
    for seed in seeds:
        ra, rb = runs_a[seed], runs_b[seed]
        diffs.append(float(ra.metrics.rsum) - float(rb.metrics.rsum))
        qa, qb = pair_scores(ra.run_dir), pair_scores(rb.run_dir)
        same = qa is not None and qb is not None and qa.shape == qb.shape
        p_queries.append(paired_t_p(qa - qb) if same else None)
    return PairedTest(a.label, b.label, seeds, diffs, paired_t_p(np.array(diffs)), p_queries)


def find_group(groups: list[RunGroup], label: str) -> RunGroup:
    """The group labelled `label`, else the only one whose label contains it.

    Raises:
        ValueError: no group or several groups match.
    """
    exact = [g for g in groups if g.label == label]
    matches = exact or [g for g in groups if label in g.label]
    if len(matches) != 1:
        found = ", ".join(g.label for g in matches) or "none"
        raise ValueError(f"--against {label!r} must name one row; matches: {found}")
    return matches[0]


def tests_against(groups: list[RunGroup], reference: RunGroup) -> list[PairedTest]:
    """Every other group of `reference`'s table (same dataset, split and protocol card)
    against it."""
    table = (reference.dataset, reference.split, reference.card_hash)
    return [
        paired_test(g, reference)
        for g in groups
        if g is not reference and (g.dataset, g.split, g.card_hash) == table
    ]
