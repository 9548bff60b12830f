"""The run record: what `metrics.json` of a finished `mrw-bench run` holds, typed and versioned.

`RunRecord.to_disk` writes `metrics.json` with a `format_version`; `RunRecord.from_disk`
reads every version written so far, migrating older files on the way in (`migrate`), the
way MTEB's `TaskResult.from_disk` reads results of older MTEB versions.

Format versions:
  1. (no `format_version` key) the files written before records were typed: `method`,
     `dataset`, `split`, `metrics` (the scorer's `--json` document), `config`, `seed`,
     `device`, `wall_time_s`, `versions`, `git_commit`, and optionally `world_size`,
     `init_check`, `best_epoch`, `best_validation_rsum`, `skipped_videos`.
  2. adds `format_version`, `dataset_revision` (the named dataset's version and a
     fingerprint of its files), `metric_definitions`, and `scores`: the same metrics in the
     shape of an MTEB result (`scores[split][0]["main_score"]`, recalls as fractions).
     `scores` and `metric_definitions` are derived from `metrics` and not read back.
     Optional (None when absent): `exact_metrics`, the metrics of the full similarity
     matrix, and `run_files`, the depth, lines and bytes of each run file; `metrics` are
     then what the scorer computes from those files (`mrw.bench.runfiles`). `small_split`
     (added within format 2; older readers ignore it): a warning when the evaluated split
     has fewer than `MIN_QUERIES` queries in a direction (`small_split_warning`), else None.
  3. adds `training_data`, the row's training-data declaration ("zero-shot; CLIP ... web-scale
     pretraining (unknown overlap with the test media)", "trained on mrw train; frame
     features: resnet152 IMAGENET1K_V1 ..."), and `pretrained_weights`: name, source and
     SHA-256 of each pretrained checkpoint the run loaded that names its file (CLIP models;
     a `role` of "method" or "features"). Older records get the declaration of what every
     run then was, trained on the dataset's training split on its cached features, and no
     weights entries.
     `set_aware` (None in older records, and in runs evaluated before it existed): the
     summary of the set-aware evaluation (`SetAwareSummary`, `mrw.bench.setaware`): which
     of the K x K head pairs win, head usage, head cosine, attention, recall with one head
     kept and under other K x K reductions. The per-query table is `per_query.parquet`.
     `postprocessed` (None in older records and in runs without `--postprocess`): per
     post-processing label (`mrw.bench.postprocess`), its metrics on the test query set,
     its realistic-stream check and its bank; reported beside `metrics`, never in them.
     `metrics_multi_positive` (None when absent; added within format 3, older readers
     ignore it): when the dataset records near-duplicate groups and the evaluated split
     holds one, the metrics against multi-positive relevance (`mrw.bench.multipositive`),
     written as `{"relevance": "multi-positive", "t2v", "v2t", "rsum", "protocol_card"}`
     beside the one-positive `metrics` (its card: the run's with `relevance` multi-positive
     and the multi-positive qrels' truth fingerprint; null before protocol cards).
  4. adds `protocol_card`: the protocol card of `metrics` (`mrw.core.protocol`, stored as
     `{"card": {...}, "card_hash": "..."}`), also written beside the run files as
     `protocol.json`; `folds` (when present) gains its own `protocol_card` (COCO's
     `coco-1k-x5`). Older records read with no card (None): `compare` tables them apart.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from leaderboard.metrics import DIRECTIONS, RECALL_KS, Bound, Metrics, MetricsFormatError
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.protocol import (
    ProtocolCard,
    ProtocolCardError,
    card_document,
    card_from_document,
)

FORMAT_VERSION = 4
RECORD_FILE = "metrics.json"
MIN_QUERIES = 100
"""Below this many queries in either direction, a run's metrics carry a warning: each R@k then
moves in steps of more than one point, and a gallery of at most k documents makes R@k 100 (a
2-pair test split gives rsum 500 by construction)."""
# What the metric names mean, written into every record (ir-measures' names in brackets).
METRIC_DEFINITIONS: dict[str, str] = {
    "R@k": "percent of queries with at least one relevant document in the top k: Success@k "
    "(hit rate) when a query has several relevant documents (a TGIF video's sentences), "
    "equal to Recall@k when it has one; a fraction in `scores`",
    "MedR": "median 1-based rank of the first relevant document, floor(median of 0-based "
    "ranks) + 1 as in the VSE++/PVSE evaluation code",
    "MeanR": "mean 1-based rank of the first relevant document",
    "nMR": "MedR / gallery size",
    "mAP": "mean average precision as trec_eval's map (a fraction), over every query",
    "nDCG@10": "trec_eval's ndcg_cut_10 (gain = relevance grade, discount log2(rank + 1)), "
    "a fraction, averaged over every query",
    "metrics_multi_positive": "the same metrics when a clip's near-duplicates count as "
    "relevant to its title and their titles to it (protocol relevance multi-positive)",
    "rsum": "R@1 + R@5 + R@10 of both directions, in percent (0..600)",
    "main_score": "rsum / 600: the mean of the six Success@k as a fraction (orders runs as "
    "rsum does)",
}


class RunRecordError(MRWError):
    """A run folder that is missing, unfinished or not a run record."""


@dataclass
class SetAwareSummary:
    """The set-aware evaluation of a run (`mrw.bench.setaware.summarise`), in `metrics.json`.

    k: `{"video": Kv, "text": Kt}` embeddings per instance; reduction: the K x K reduction the
    metrics rank by ("max", PVSE eq. 6); head_usage: per side `{"counts": [K] wins over the
    ground-truth pairs, "entropy" (nats), "entropy_ratio" (to log K; 1 = uniform),
    "kl_uniform"}`; margin: mean and median of the winning cosine minus the runner-up in the
    ground-truth pairs' K x K blocks (None for K = 1); head_cosine: per side the `[K, K]` mean
    cosine between an instance's heads (None for K = 1); attention: the method's
    `init_check` on trained weights (PVSE: attention entropy ratio and head TV distance per
    side), None when it exposes none; head_recall: per head k, `{"t2v", "v2t": R@k, "rsum"}`
    with only head k of both sides kept (None unless K > 1 on both sides); reductions: the
    same document per alternative reduction asked for ("mean", "lse" at `lse_temperature`).
    """

    k: dict[str, int]
    reduction: str
    head_usage: dict[str, dict[str, Any]]
    margin: dict[str, float | None]
    head_cosine: dict[str, list[list[float]] | None]
    attention: dict[str, Any] | None = None
    head_recall: list[dict[str, Any]] | None = None
    reductions: dict[str, dict[str, Any]] = field(default_factory=dict)
    lse_temperature: float | None = None


@dataclass
class RunRecord:
    """A finished run (the fields of `metrics.json`); `run_dir` is where it was read from.

    `config` is the run's `config.json` (method config, options, features, training);
    `dataset_revision` is `{"name", "revision", "fingerprint"}` when the dataset was known.
    """

    method: str
    dataset: str
    split: str
    metrics: Metrics
    config: dict[str, Any]
    seed: int
    device: str
    wall_time_s: float
    versions: dict[str, str]
    git_commit: str | None
    world_size: int = 1
    init_check: dict[str, Any] | None = None
    best_epoch: int | None = None
    best_validation_rsum: float | None = None
    # Epochs trained, fewer than the budget when early stopping (`--patience`) ended training.
    epochs_run: int | None = None
    skipped_videos: dict[str, int] = field(default_factory=dict)
    dataset_revision: dict[str, str] | None = None
    exact_metrics: Metrics | None = None
    run_files: dict[str, dict[str, int]] | None = None
    # The test split's fold protocol (COCO 1K, `mrw.bench.evaluator.fold_metrics`): folds,
    # fold_size, metrics (mean over folds, the scorer's document) and per_fold.
    folds: dict[str, Any] | None = None
    small_split: str | None = None  # `small_split_warning` of the evaluated split
    training_data: str = ""
    pretrained_weights: list[dict[str, Any]] = field(default_factory=list)
    set_aware: SetAwareSummary | None = None
    # label -> `mrw.bench.postprocess.postprocessed_metrics` entry; never the run's metrics
    postprocessed: dict[str, dict[str, Any]] | None = None
    # How `metrics` were measured (`mrw.bench.protocol_cards.run_card`); None in old records.
    protocol_card: ProtocolCard | None = None
    # The same evaluation against multi-positive qrels (near-duplicates relevant), at the
    # run files' depths; None when the dataset records no near-duplicate group in the split.
    metrics_multi_positive: Metrics | None = None
    # Its protocol card: the run's card with `relevance="multi-positive"` and the truth
    # fingerprint of the multi-positive qrels; stored inside the block.
    multi_positive_card: ProtocolCard | None = None
    run_dir: Path | None = field(default=None, compare=False)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict[str, Any]:
        """The `metrics.json` document (current format)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del out["run_dir"]
        out["format_version"] = FORMAT_VERSION
        out["metrics"] = self.metrics.to_json()
        out["exact_metrics"] = self.exact_metrics.to_json() if self.exact_metrics else None
        out["set_aware"] = dataclasses.asdict(self.set_aware) if self.set_aware else None
        out["protocol_card"] = card_document(self.protocol_card) if self.protocol_card else None
        multi, multi_card = self.metrics_multi_positive, self.multi_positive_card
        del out["multi_positive_card"]
        out["metrics_multi_positive"] = (
            {
                "relevance": "multi-positive",
                **multi.to_json(),
                "protocol_card": card_document(multi_card) if multi_card else None,
            }
            if multi
            else None
        )
        out["metric_definitions"] = METRIC_DEFINITIONS
        out["scores"] = {self.split: [mteb_scores(self.metrics)]}
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any], run_dir: Path | None = None) -> RunRecord:
        """A record from a `metrics.json` document of any format version (migrated)."""
        data = migrate(data)
        names = {f.name for f in dataclasses.fields(cls)} - {
            "run_dir",
            "metrics",
            "exact_metrics",
            "set_aware",
            "protocol_card",
            "metrics_multi_positive",
            "multi_positive_card",
        }
        exact, set_aware = data.get("exact_metrics"), data.get("set_aware")
        card = data.get("protocol_card")
        multi = data.get("metrics_multi_positive")
        multi_card = (multi or {}).get("protocol_card")
        try:
            return cls(
                metrics=Metrics.from_json(data["metrics"]),
                exact_metrics=Metrics.from_json(exact) if exact else None,
                set_aware=SetAwareSummary(**set_aware) if set_aware else None,
                protocol_card=card_from_document(card) if card is not None else None,
                metrics_multi_positive=Metrics.from_json(multi) if multi else None,
                multi_positive_card=card_from_document(multi_card) if multi_card else None,
                run_dir=run_dir,
                **{k: v for k, v in data.items() if k in names},
            )
        except (KeyError, TypeError, MetricsFormatError, ProtocolCardError) as exc:
            raise RunRecordError(f"not a valid run record ({exc})") from None

    @property
    def fold_card(self) -> ProtocolCard | None:
        """The protocol card of the fold metrics (`folds["protocol_card"]`), None without one.

        Raises:
            RunRecordError: a fold card that is not a valid card document.
        """
        document = (self.folds or {}).get("protocol_card")
        if document is None:
            return None
        try:
            return card_from_document(document)
        except ProtocolCardError as exc:
            raise RunRecordError(f"not a valid run record (folds: {exc})") from None

    def to_disk(self, path: str | Path) -> Path:
        """Write `metrics.json` atomically (`path`: the file, or a run folder)."""
        target = Path(path)
        if target.is_dir():
            target = target / RECORD_FILE
        with atomic_write(target, "w") as handle:
            json.dump(json_safe(self.to_json()), handle, indent=2, default=str, allow_nan=False)
            handle.write("\n")
        return target

    @classmethod
    def from_disk(cls, run_dir: str | Path) -> RunRecord:
        """Read a finished run's `metrics.json` (`run_dir`: the run folder or the file).

        Raises:
            RunRecordError: no record there (unfinished runs are named as such), unreadable
                JSON, or a document that is not a run record.
        """
        run_dir = Path(run_dir)
        if run_dir.name == RECORD_FILE and run_dir.is_file():
            run_dir = run_dir.parent
        path = run_dir / RECORD_FILE
        if not path.is_file():
            state = (
                "unfinished (no metrics.json; --resume it)"
                if (run_dir / "checkpoint.pt").exists()
                else "not a run record"
            )
            raise RunRecordError(f"{run_dir}: {state}")
        try:
            data = json.loads(
                path.read_text(encoding="utf-8"),
                parse_constant=_refuse_number,
                parse_int=_bounded_int,
                parse_float=_finite_float,
            )
        except RecursionError:
            raise RunRecordError(f"{path}: not a valid run record (nested too deeply)") from None
        except (OSError, ValueError) as exc:
            raise RunRecordError(f"{path}: not a valid run record ({exc})") from None
        try:
            return cls.from_json(data, run_dir)
        except RunRecordError as exc:
            raise RunRecordError(f"{path}: {exc}") from None


def _refuse_number(text: str) -> Any:
    raise ValueError(f"{text} is not a finite number")


def _bounded_int(text: str) -> int:
    """A JSON integer within 64 bits (a count, a seed); larger ones are no run record's."""
    value = int(text)
    if abs(value) >= 2**63:
        raise ValueError(f"integer {text[:20]}... out of range")
    return value


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is not a finite number")
    return value


def json_safe(value: Any) -> Any:
    """`value` with every non-finite float (a diverged loss, no validation epoch's -inf) as
    None, so the JSON written is strict (no `NaN`/`Infinity` tokens)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """A `metrics.json` document of any known version, brought to `FORMAT_VERSION`.

    Raises:
        RunRecordError: not a JSON object, or a version newer than this toolkit knows.
    """
    if not isinstance(data, Mapping):
        raise RunRecordError("not a valid run record (not a JSON object)")
    out = dict(data)
    version = out.get("format_version", 1)
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise RunRecordError(
            f"run record format_version {version!r} is newer than this toolkit reads "
            f"({FORMAT_VERSION}); upgrade mrw-toolkit"
        )
    if version == 1:  # before typed records: nothing renamed, a few fields were optional
        out.setdefault("world_size", 1)
        out.setdefault("dataset_revision", None)
    if version <= 2:  # every method was trained on the training split's cached features
        features = (out.get("config") or {}).get("features") or {}
        out["training_data"] = training_data_declaration(
            f"trained on {out.get('dataset')} train",
            features.get("backbone"),
            features.get("weights"),
        )
        out["pretrained_weights"] = []
        out.setdefault("set_aware", None)  # before the set-aware evaluation
    out.setdefault("postprocessed", None)  # added within format 3; absent before
    if version <= 3:  # before protocol cards: how the metrics were measured is not stated
        out["protocol_card"] = None
    out.pop("scores", None)  # derived views, recomputed on writing
    out.pop("metric_definitions", None)
    out["format_version"] = FORMAT_VERSION
    return out


def small_split_warning(metrics: Metrics, split: str) -> str | None:
    """A one-line warning when `split` is too small for its metrics to mean much: fewer than
    `MIN_QUERIES` queries in either direction (None otherwise).

    With n queries each R@k moves in steps of 100/n points, and R@k is 100 whenever the
    gallery holds at most k documents.
    """
    queries = min(metrics.direction(d).queries for d in DIRECTIONS)
    if queries >= MIN_QUERIES:
        return None
    step = 100 / queries if queries else 100.0
    return (
        f"the {split} split has {queries} queries (under {MIN_QUERIES}): R@k moves in steps of "
        f"{step:.3g} points and is 100 for a gallery of k documents or fewer, so these "
        "numbers say little"
    )


def training_data_declaration(method_part: str, backbone: str | None, weights: str | None) -> str:
    """A row's training-data declaration: the method's own part ("zero-shot; ...", "trained on
    mrw train"), then the frame features' pretraining when they come from pretrained weights
    (web-scale or ImageNet data may overlap the test media: the declaration says "unknown
    overlap" rather than nothing). `backbone`/`weights` as in `config.json`'s `features`;
    None or `none` weights (random or learning-free extractors) add nothing."""
    if not backbone or not weights or weights == "none" or backbone == "precomp":
        return method_part
    return (
        f"{method_part}; frame features: {backbone} {weights} pretrained "
        "(unknown overlap with the test media)"
    )


def mteb_scores(metrics: Metrics) -> dict[str, Any]:
    """One MTEB `ScoresDict` of a split: `main_score` (rsum / 600) and every metric.

    Recalls are fractions named `{direction}_success_at_{k}` (Success@k; equal to recall@k
    for one relevant document per query); ranks are as in `metrics`. A censored value (only
    possible for scores of truncated run files) is None here and listed under `censored`.
    """
    scores: dict[str, Any] = {"hf_subset": "default", "languages": ["eng-Latn"]}
    censored = []

    def put(name: str, value: Any, scale: float = 1.0) -> None:
        if isinstance(value, Bound):
            censored.append(name)
            scores[name] = None
        else:
            scores[name] = None if value is None else value * scale

    put("main_score", metrics.rsum, 1 / 600)
    for direction in DIRECTIONS:
        m = metrics.direction(direction)
        for k in RECALL_KS:
            put(f"{direction}_success_at_{k}", m.recall[k], 1 / 100)
        put(f"{direction}_medr", m.medr)
        put(f"{direction}_meanr", m.meanr)
        put(f"{direction}_nmr", m.nmr)
    put("rsum", metrics.rsum)
    if censored:
        scores["censored"] = censored
    return scores


def dataset_revision(name: str, version: str, folder: Path) -> dict[str, str] | None:
    """A named dataset's name, catalogue version and a fingerprint of its prepared copy:
    SHA-256 over its card and the names and sizes of its data files (MTEB records the Hub
    revision instead; a local copy has none). None when the folder does not exist."""
    if not folder.is_dir():
        return None
    digest = hashlib.sha256()
    card = folder / "README.md"
    if card.is_file():
        digest.update(card.read_bytes())
    for path in sorted((folder / "data").glob("*")):
        digest.update(f"{path.name}:{path.stat().st_size}\n".encode())
    return {"name": name, "revision": version, "fingerprint": digest.hexdigest()}
