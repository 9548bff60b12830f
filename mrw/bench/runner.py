"""One benchmark run end to end: features -> vocabulary -> train -> evaluate -> run record.

`run_method` is the API every harness command (run, compare, sweep, reproduce) builds on, so
all methods go through the same features, trainer, evaluator and scorer. A run record is
`{runs_dir}/{dataset}/{method}/{run_id}/` with `config.json`, `metrics.json`, `t2v.run.gz`,
`v2t.run.gz`, `checkpoint.pt`, `log.jsonl` (and `vocab.json`, to reuse the checkpoint;
`query_ranks.json`, each query's first relevant rank, for `compare`'s paired tests;
`per_query.parquet`, the set-aware evaluation's per-query table, `mrw.bench.setaware`;
`protocol.json`, the protocol card of the metrics, `mrw.bench.protocol_cards`).
`metrics.json` is written last: its presence marks a finished run. Its `metrics` are what
`mrw-leaderboard score` computes from the run files (written to the dataset's default depth,
`mrw.bench.runfiles`); `exact_metrics` are those of the full similarity matrix (the same
values wherever the depth decides them).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from leaderboard.metrics import Metrics
from mrw.bench import distributed as dist_util
from mrw.bench.identity import experiment_hash, experiment_settings
from mrw.bench.options import RunOptions
from mrw.bench.record import (
    RunRecord,
    RunRecordError,
    SetAwareSummary,
    dataset_revision,
    json_safe,
    small_split_warning,
)
from mrw.catalog import dataset_record, find_dataset
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError
from mrw.core.protocol import card_document, write_card_file
from mrw.core.provenance import git_commit, versions
from mrw.core.untrusted import check_id

if TYPE_CHECKING:
    from mrw.bench.data import PairData, SplitFeatures
    from mrw.bench.evaluator import Evaluation
    from mrw.bench.features import FeatureSpec
    from mrw.bench.trainer import TrainConfig, TrainResult
    from mrw.methods.base import Method
    from mrw.methods.vocab import Vocabulary

log = logging.getLogger(__name__)

EVAL_SPLITS = ("test", "validation")


@dataclass
class RunResult:
    """A finished run: its folder, the evaluated split's metrics and the whole record."""

    run_dir: Path
    metrics: Metrics
    record: RunRecord


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise MRWError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise MRWError("--device cuda asked for, but no CUDA device is available")
    return device


def _dataset_revision(dataset: str) -> dict[str, str] | None:
    """Name, version and fingerprint of a catalogued dataset (None for a folder or hub id)."""
    record = find_dataset(dataset)
    return dataset_revision(record.name, record.version, record.folder) if record else None


def _run_dir(method: str, options: RunOptions, config: Mapping[str, Any]) -> tuple[Path, bool]:
    """(the run folder, whether it resumes an earlier one)."""
    from mrw.bench.features import dataset_slug

    parent = Path(options.runs_dir) / dataset_slug(options.dataset) / method
    if options.resume:
        if options.resume == "last":
            candidates = sorted(
                (
                    p
                    for p in parent.glob("*/checkpoint.pt")
                    if not (p.parent / "metrics.json").exists()
                ),
                key=lambda p: p.stat().st_mtime,
            )
            if not candidates:
                raise RunRecordError(
                    f"--resume last: no unfinished run with a checkpoint under {parent}"
                )
            return candidates[-1].parent, True
        run_dir = Path(options.resume)
        if not (run_dir / "checkpoint.pt").is_file():
            raise RunRecordError(f"--resume {run_dir}: no checkpoint.pt there")
        return run_dir, True
    settings = experiment_settings(method, config["method_config"], config["options"])
    stamp = time.strftime("%Y%m%d-%H%M%S")
    run_id = options.run_id or f"{stamp}-{experiment_hash(settings)}-s{options.seed}"
    run_dir = parent / check_id(run_id, "run id")
    if (run_dir / "metrics.json").exists() or (run_dir / "checkpoint.pt").exists():
        raise RunRecordError(f"{run_dir} already holds a run; pick another --run-id or --resume it")
    return run_dir, False


_MAY_CHANGE_ON_RESUME = {
    "options.epochs",
    "train.epochs",
    "options.resume",
    "options.run_id",
    "options.progress",
    "options.postprocess",  # reported beside the raw result; training does not read them
    "options.qb_bank_size",
}


def _check_resumable(run_dir: Path, config: dict[str, Any]) -> None:
    """A resumed run must be the same experiment; only the number of epochs may grow."""
    try:
        saved = json.loads((run_dir / "config.json").read_text())
    except (OSError, ValueError) as exc:
        raise RunRecordError(f"cannot resume {run_dir}: unreadable config.json ({exc})") from None

    def flat(c: Mapping[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in c.items():
            items = value.items() if isinstance(value, Mapping) else [("", value)]
            out.update({f"{key}.{sub}".rstrip("."): v for sub, v in items})
        return {k: v for k, v in out.items() if k not in _MAY_CHANGE_ON_RESUME}

    old, new = flat(saved), flat(json.loads(json.dumps(config, default=str)))
    diff = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    if diff:
        raise RunRecordError(
            f"cannot resume {run_dir}: it was run with different settings ({', '.join(diff)})"
        )


def _append_log(path: Path, record: Mapping[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, default=str) + "\n")


def _log_evaluation(path: Path, record: Mapping[str, Any]) -> None:
    """Append the final evaluation to the log, replacing one that already ends it.

    A run killed after logging its evaluation but before writing `metrics.json` evaluates
    again on resume: the log keeps one evaluation line per training state, not two.
    """
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    while lines and '"evaluation"' in lines[-1]:
        try:
            if "evaluation" not in json.loads(lines[-1]):
                break
        except ValueError:  # a torn last line
            pass
        lines.pop()
    lines.append(json.dumps(record, default=str))
    with atomic_write(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _finished_run(run_dir: Path, config: Mapping[str, Any]) -> RunResult | None:
    """The finished run in `run_dir` if resuming it would train no further epoch, else None."""
    try:
        record = RunRecord.from_disk(run_dir)
        trained_epochs = record.config["train"]["epochs"]
    except (RunRecordError, KeyError, TypeError):
        return None
    if trained_epochs != config["train"]["epochs"]:
        return None
    return RunResult(run_dir, record.metrics, record)


def _write_json(path: Path, data: Any) -> None:
    """Strict JSON: a non-finite float (a diverged loss, no validation epoch) becomes null."""
    with atomic_write(path, "w") as handle:
        json.dump(json_safe(data), handle, indent=2, default=str, allow_nan=False)
        handle.write("\n")


def run_method(
    method: str, method_overrides: Mapping[str, Any] | None, options: RunOptions
) -> RunResult:
    """Train `method` on `options.dataset` and evaluate it on `options.split`; write a run record.

    `method_overrides` are fields of the method's config (unknown ones are an error). Under
    `torchrun` every rank calls this; rank 0 writes the record and all ranks return it.
    """
    from mrw.bench.data import PairData, one_sentence_per_video
    from mrw.bench.features import decode_frames, extract_features, prepare_inputs
    from mrw.bench.setaware import PER_QUERY_FILE, evaluate_set_aware, write_parquet
    from mrw.bench.trainer import TrainConfig, Trainer, TrainResult
    from mrw.methods.base import MethodContext
    from mrw.methods.registry import create_method, get_method_class, make_config
    from mrw.methods.vocab import Vocabulary, word_vectors

    started = time.perf_counter()
    if options.split not in EVAL_SPLITS:
        raise MRWError(f"--split must be one of {', '.join(EVAL_SPLITS)}, got {options.split!r}")
    method_class = get_method_class(method)
    method_config = make_config(method, method_overrides)
    options = _method_options(method, method_config, options)  # fail on bad options first
    method_class.fetch_weights(method_config)  # missing weights fail before any decoding
    device = dist_util.local_device(resolve_device(options.device))
    dist_util.init(device)

    splits = {}
    for split in dict.fromkeys(("train", "validation", options.split)):
        if method_class.visual_input == "frames":  # the method owns its image tower
            used = options.feature_spec(split)
            splits[split] = decode_frames(used, options.feature_workers, options.progress)
        else:
            splits[split], used = extract_features(
                options.feature_spec(split),
                device,
                workers=options.feature_workers,
                progress=options.progress,
            )
    if method_class.visual_input == "features":
        splits = prepare_inputs(splits, bool(options.standardize_features), options.feature_mix)
    if options.one_sentence_per_video:
        splits[options.split] = one_sentence_per_video(splits[options.split])
    vocab = Vocabulary.build(splits["train"].sentences, options.min_word_count)
    tokenize = method_class.text_tokenizer(method_config)
    initial_words, words = None, {"source": "the method's own tokenizer", "hit_rate": None}
    if tokenize is None:
        vectors = word_vectors(vocab, options.glove, seed=options.seed)
        initial_words = vectors.vectors
        words = {"source": vectors.source, "hit_rate": vectors.hit_rate}
    data = {name: PairData(split, vocab, tokenize) for name, split in splits.items()}
    train_config = TrainConfig(
        epochs=options.epochs,
        batch_size=options.batch_size,
        lr=options.lr,
        **_schedule(options),
        grad_clip=options.grad_clip,
        seed=options.seed,
        eval_batch_size=options.eval_batch_size,
        patience=options.patience,
    )
    visual = visual_kind(used)
    config = {
        "method": method,
        "visual": visual,
        "method_config": asdict(method_config),
        "options": asdict(options),
        "features": {k: v for k, v in asdict(used).items() if k != "split"},
        "train": asdict(train_config),
        "vocab_size": len(vocab),
        "word_vectors": words,
    }
    run_dir, resuming = dist_util.broadcast(
        _run_dir(method, options, config) if dist_util.is_main() else None
    )
    if resuming:
        _check_resumable(run_dir, config)
        finished = _finished_run(run_dir, config)
        if finished is not None:  # nothing left to train: the record stands, the log unchanged
            return finished
    if dist_util.is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_json(run_dir / "config.json", config)  # on resume: records the new epoch count
        vocab.save(run_dir / "vocab.json")

    torch.manual_seed(options.seed)  # identical initial weights on every rank
    context = MethodContext(
        splits["train"].feature_dim,
        len(vocab),
        data["train"].num_pairs,
        initial_words,
        visual,
    )
    model = create_method(method, context, method_overrides)
    trainer = (
        None
        if method_class.zero_shot
        else Trainer(
            model,
            train_config,
            device,
            run_dir / "checkpoint.pt",
            log=lambda record: _append_log(run_dir / "log.jsonl", record),
            progress=options.progress,
        )
    )
    init_check = _init_check(model, data["train"], device)
    if method_class.zero_shot:  # evaluated as built: no epoch, no checkpoint
        trained = TrainResult(best_epoch=0, best_rsum=math.nan)
    else:
        trained = trainer.fit(data["train"], data["validation"], resume=resuming)
    if options.finetune_epochs:
        model, data, trained = _finetune(model, used, vocab, options, train_config, device, run_dir)
    set_aware = evaluate_set_aware(
        model, data[options.split], device, options.eval_batch_size, options.kk_reductions
    )
    evaluation = set_aware.evaluation
    postprocessed = None
    if options.postprocess:  # beside the raw result: nothing below reads it
        from mrw.bench.postprocess import evaluate_postprocessing

        postprocessed = evaluate_postprocessing(
            model,
            data[options.split],
            data["train"],
            evaluation.scores,
            options.postprocessings(),
            options.seed,
            device,
            options.eval_batch_size,
        )
    pair_video = data[options.split].split.pair_video
    folds = _folds(options, evaluation, data[options.split].split)

    record = RunRecord(
        method=method,
        dataset=options.dataset,
        split=options.split,
        metrics=evaluation.metrics,  # replaced below by what the run files score
        exact_metrics=evaluation.metrics,
        config=json.loads(json.dumps(config, default=str)),
        seed=options.seed,
        device=str(device)
        if device.type == "cpu"
        else f"{device} ({torch.cuda.get_device_name(device)})",
        world_size=dist_util.world_size(),
        init_check=init_check,
        best_epoch=trained.best_epoch or None,
        best_validation_rsum=trained.best_rsum,
        epochs_run=trained.epochs_run,
        skipped_videos={name: len(split.skipped) for name, split in splits.items()},
        wall_time_s=round(time.perf_counter() - started, 3),
        versions=versions(),
        git_commit=git_commit(),
        dataset_revision=_dataset_revision(options.dataset),
        folds=folds,
        small_split=small_split_warning(evaluation.metrics, options.split),
        training_data=_training_data(model, options, used),
        pretrained_weights=_pretrained_weights(model, splits["train"]),
        set_aware=SetAwareSummary(**set_aware.summary),
        postprocessed=postprocessed,
        run_dir=run_dir,
    )
    if record.small_split and dist_util.is_main():
        log.warning("%s: %s", method, record.small_split)
    if dist_util.is_main():
        from mrw.bench.multipositive import dataset_groups, multi_positive_metrics
        from mrw.bench.runfiles import write_evaluation_runs

        # The tag is the method: the run folder and config.json identify the run (short lines).
        written = write_evaluation_runs(
            run_dir, options.dataset, evaluation, method, options.run_depth
        )
        record.metrics, record.run_files = written["metrics"], written["run_files"]
        _protocol_cards(record, options, evaluation, pair_video, splits["train"].weights)
        write_card_file(run_dir, record.protocol_card)  # the run files' sidecar
        groups = dataset_groups(options.dataset)
        record.metrics_multi_positive = multi_positive_metrics(
            evaluation,
            pair_video,
            groups,
            (record.run_files["t2v"]["depth"], record.run_files["v2t"]["depth"]),
        )
        if record.metrics_multi_positive is not None and record.protocol_card is not None:
            from mrw.bench.protocol_cards import truth_sha256

            videos = [evaluation.video_ids[v] for v in pair_video.tolist()]
            record.multi_positive_card = record.protocol_card.replace(
                relevance="multi-positive",
                truth_sha256=truth_sha256(evaluation.sentence_ids, videos, groups),
            )
        _write_json(  # per-query first relevant ranks: the paired tests of `compare`
            run_dir / "query_ranks.json",
            {
                "t2v": {
                    "queries": evaluation.sentence_ids,
                    "ranks": evaluation.t2v_ranks.tolist(),
                    # each sentence's video (a v2t query): pairs the two directions by video
                    "videos": [evaluation.video_ids[v] for v in pair_video.tolist()],
                },
                "v2t": {"queries": evaluation.video_ids, "ranks": evaluation.v2t_ranks.tolist()},
            },
        )
        write_parquet(set_aware.tables, run_dir / PER_QUERY_FILE)
        _log_evaluation(
            run_dir / "log.jsonl",
            {"evaluation": options.split, "metrics": record.metrics.to_json()},
        )
        record.to_disk(run_dir)
    record = dist_util.broadcast(record if dist_util.is_main() else None)
    dist_util.barrier()
    return RunResult(run_dir, record.metrics, record)


def _method_options(method: str, config: Any, options: RunOptions) -> RunOptions:
    """`options` resolved for `method` (`RunOptions.resolved`), with what the method fixes:
    a zero-shot method trains no epoch, and reads the features of its own image tower
    (`Method.features_needed`), which are not standardised (they share a space with its text
    tower).

    Raises:
        MRWError: an option the method cannot honour (epochs or fine-tuning for a zero-shot
            method, another backbone than its own, standardised features, fine-tuning a
            method that already trains on frames).
    """
    from mrw.methods.registry import get_method_class

    cls = get_method_class(method)
    if cls.zero_shot and (options.epochs is not None or options.finetune_epochs):
        raise MRWError(f"{method} is zero-shot: it trains nothing (drop --epochs/--finetune-*)")
    if cls.visual_input == "frames" and (options.finetune_epochs or options.backbone):
        raise MRWError(
            f"{method} reads decoded frames into its own image tower: "
            "--backbone and --finetune-epochs do not apply"
        )
    needed = cls.features_needed(config)
    if needed is not None:
        backbone, weights = needed
        if options.backbone not in (None, backbone) or options.weights not in (None, weights):
            raise MRWError(
                f"{method} scores features of its own image tower (--backbone {backbone} "
                f"--weights {weights}); set the model with --set model=... pretrained=..."
            )
        if options.standardize_features:
            raise MRWError(f"{method} compares in its model's joint space: no standardisation")
        options = dataclasses.replace(
            options, backbone=backbone, weights=weights, standardize_features=False
        )
    options = options.resolved(method)
    return dataclasses.replace(options, epochs=0) if cls.zero_shot else options


def _training_data(model: Method, options: RunOptions, used: FeatureSpec) -> str:
    """The run's training-data declaration (`RunRecord.training_data`): the method's own, and
    the pretraining of the features it reads unless they are its own model's or it reads
    frames."""
    from mrw.bench.record import training_data_declaration

    own = model.training_data(options.dataset)
    if model.visual_input == "frames" or model.features_needed(model.config) is not None:
        return own
    return training_data_declaration(own, used.backbone, used.weights)


def _pretrained_weights(model: Method, train: SplitFeatures) -> list[dict[str, Any]]:
    """Name, source and SHA-256 of the pretrained checkpoints the run used: the method's
    own, then the feature backbone's (when the feature cache names them and the method does
    not already load the same file)."""
    entries = [{"role": "method", **w} for w in model.pretrained_weights()]
    if train.weights and train.weights.get("sha256") not in {w["sha256"] for w in entries}:
        entries.append({"role": "features", **train.weights})
    return entries


def visual_kind(spec: FeatureSpec) -> str:
    """The visual input's kind (`MethodContext.visual`): "image" when the local features are
    one image's cells (grid or imported features), which encoders pool; else "video"."""
    from mrw.bench.features import PRECOMPUTED

    return "image" if spec.grid or spec.backbone == PRECOMPUTED else "video"


def _folds(options: RunOptions, evaluation: Evaluation, split: SplitFeatures) -> dict | None:
    """The fold protocol's metrics (`fold_metrics`) for the test split of a dataset that has
    one in the catalogue (`DatasetRecord.test_folds`: MS-COCO's 1K)."""
    from mrw.bench.evaluator import fold_metrics

    record = dataset_record(options.dataset)
    protocol = record.test_folds if record else None
    if options.split != "test" or protocol is None:
        return None
    count, size = protocol
    if len(split.video_ids) < count * size:
        log.warning(
            "%s test split has too few images for %d folds of %d", options.dataset, *protocol
        )
        return None
    return fold_metrics(evaluation, split.pair_video, count, size)


def _protocol_cards(
    record: RunRecord,
    options: RunOptions,
    evaluation: Evaluation,
    pair_video: torch.Tensor,
    feature_weights: Mapping[str, Any] | None,
) -> None:
    """Set the record's protocol card (`mrw.bench.protocol_cards.run_card`; its run files
    must be written), its fold metrics' own card and each post-processed result's card (the
    run's with `postprocess` set to the result's label)."""
    from mrw.bench.protocol_cards import fold_card, run_card

    record.protocol_card = run_card(
        dataset=options.dataset,
        split=options.split,
        one_sentence_per_video=options.one_sentence_per_video,
        sentence_ids=evaluation.sentence_ids,
        sentence_videos=[evaluation.video_ids[v] for v in pair_video.tolist()],
        video_count=len(evaluation.video_ids),
        run_files=record.run_files or {},
        features=record.config.get("features") or {},
        features_sha256=(feature_weights or {}).get("sha256"),
    )
    if record.folds:
        card = fold_card(record.protocol_card, record.folds["folds"], record.folds["fold_size"])
        record.folds = {**record.folds, "protocol_card": card_document(card)}
    if record.postprocessed:  # each post-processed result: the run's card, its post-processing
        record.postprocessed = {
            label: {
                **entry,
                "protocol_card": card_document(
                    record.protocol_card.replace(postprocess=entry["label"])
                ),
            }
            for label, entry in record.postprocessed.items()
        }


def _schedule(options: RunOptions) -> dict[str, Any]:
    """TrainConfig's lr-schedule fields for `options.lr_schedule`.

    Raises:
        MRWError: an unknown schedule.
    """
    if options.lr_schedule == "harness":
        return {"lr_mode": "max", "lr_patience": options.lr_patience}
    if options.lr_schedule == "reference":
        return {"lr_mode": "min", "lr_patience": 10}
    raise MRWError(f"lr_schedule must be 'harness' or 'reference', got {options.lr_schedule!r}")


def _init_check(model: Method, train: PairData, device: torch.device) -> dict[str, Any] | None:
    """The method's init-time diagnostics (`Method.init_check`) on the first training pairs
    (at most 256); their `warning`, if any, is logged."""
    from mrw.methods import base

    if type(model).init_check is base.Method.init_check:  # none: build no batch (frames!)
        return None
    batch = train.batch(torch.arange(min(256, train.num_pairs)))
    check = model.to(device).init_check(batch.to(device))
    if check and check.get("warning") and dist_util.is_main():
        log.warning(check["warning"])
    return check


def _finetune(
    model: Method,
    spec: FeatureSpec,
    vocab: Vocabulary,
    options: RunOptions,
    train_config: TrainConfig,
    device: torch.device,
    run_dir: Path,
) -> tuple[Method, dict[str, PairData], TrainResult]:
    """Stage 2: the trained method behind its (now trainable) CNN, trained on decoded frames.

    Checkpointed in `finetune.pt` (stage 1 stays in `checkpoint.pt`); resumes when it exists.
    """
    from mrw.bench.backbones import FrameEncoder, build_backbone
    from mrw.bench.data import PairData
    from mrw.bench.features import decode_frames
    from mrw.bench.finetune import FrameMethod
    from mrw.bench.trainer import Trainer

    cnn, _ = build_backbone(spec.backbone, spec.weights, spec.grid)
    wrapped = FrameMethod(model, FrameEncoder(cnn, spec.image_size, spec.grid))
    frames = {
        split: PairData(
            decode_frames(
                dataclasses.replace(spec, split=split), options.feature_workers, options.progress
            ),
            vocab,
        )
        for split in dict.fromkeys(("train", "validation", options.split))
    }
    checkpoint = run_dir / "finetune.pt"
    trainer = Trainer(
        wrapped,
        dataclasses.replace(train_config, epochs=options.finetune_epochs, lr=options.finetune_lr),
        device,
        checkpoint,
        log=lambda record: _append_log(run_dir / "log.jsonl", {"stage": "finetune", **record}),
        progress=options.progress,
    )
    return (
        wrapped,
        frames,
        trainer.fit(frames["train"], frames["validation"], resume=checkpoint.is_file()),
    )
