"""`mrw-bench headroom --dataset D`: can more than one embedding per clip pay on this set?

PVSE's claim is that K > 1 embeddings per clip beat one where a clip shows several things
and a sentence names one of them. That can only pay where a single vector per clip *loses*
what the sentences ask about. This probe measures it without training any embedding model,
from the harness's own cached frame features (z-scored with training statistics, as every
method sees them) and the dataset's moment labels (`mrw.toy.moments`; every toy set):

- **mean reader**: one ridge regression (Hoerl & Kennard 1970) from the *mean-pooled* frame
  feature of a clip `[F]` to the indicators of every attribute value its moments show
  (`[V]`: colour=red, scene=night, ...). It is the best linear reading of the one vector a
  K=1 model could start from;
- **max reader**: one ridge regression from *each frame's* feature to the values of the
  moments visible on that frame (the frame labels come from the moments' spans and the same
  uniform sampler the feature cache used); a clip scores a sentence by its best frame.

Both score a (sentence, clip) pair by the mean of the predicted indicators of the values the
sentence names (`[Nv, Nt]` scores), ranked and scored by the harness's evaluator (exact
ranks, trec_eval ties). What each split does, so the numbers are honest:

- *fitted on train*: the ridge weights and intercept of each reader (closed form);
- *selected on validation*: each reader's ridge penalty, from `PENALTIES` (times the mean
  eigenvalue of the centred Gram matrix), by validation rsum;
- *reported on test*: each reader's rsum with that penalty, beside the set's ceiling (the
  expected rsum of a reader that perceives every clip perfectly, `mrw.toy.ceiling`) and
  chance.

Reading: where the max reader beats the mean reader, the mean-pooled vector is a
confusable superposition of the moments and K > 1 has something to win; where the mean
reader is already near the ceiling, one embedding loses nothing and K > 1 cannot help.
"""

from __future__ import annotations

import importlib
from dataclasses import asdict, dataclass
from types import SimpleNamespace

import numpy as np
import torch

from mrw.bench.data import SplitFeatures
from mrw.toy.moments import ClipMoments, MomentLabels

PENALTIES = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)
"""Ridge penalties tried on validation, relative to the mean eigenvalue of X^T X."""


@dataclass
class ReaderResult:
    """One reader: the penalty chosen on validation, its validation and test rsum."""

    penalty: float
    validation_rsum: float
    test_rsum: float


@dataclass
class Headroom:
    """The probe's outcome on one dataset (rsum: sum of R@1, 5, 10 of both directions, %)."""

    dataset: str
    test_pairs: int
    mean_reader: ReaderResult
    max_reader: ReaderResult
    ceiling: float
    chance: float

    @property
    def gap(self) -> float:
        """max reader − mean reader on test: what more than one vector per clip can win."""
        return self.max_reader.test_rsum - self.mean_reader.test_rsum

    def to_json(self) -> dict:
        return {**asdict(self), "max_minus_mean": self.gap}


def load_moment_labels(dataset: str, split: str) -> MomentLabels:
    """The moment labels of a catalogued dataset's split.

    Raises:
        DatasetNotFoundError: no such dataset (`mrw.dataset.loader.resolve`'s one line).
        MRWError: the dataset is not catalogued, or its record names no moment labels.
    """
    from mrw.catalog import find_dataset
    from mrw.core.errors import MRWError
    from mrw.dataset.loader import resolve

    record = find_dataset(dataset)
    if record is None:
        resolve(dataset, build=False)  # a name, folder or hub id that is not there: say so
    if record is None or record.moment_labels is None:
        raise MRWError(
            f"the {dataset} dataset carries no moment labels; headroom needs them "
            "(every toy set has them)"
        )
    module, function = record.moment_labels.split(":")
    return getattr(importlib.import_module(module), function)(split)


def sampled_frame_times(delays_ms: tuple[int, ...], num_frames: int, fps: float) -> list[float]:
    """Start times (s) of the frames `mrw.media.frames.decode` returns for a clip with these delays
    (uniform sampling: the same ticks and selection as the feature cache)."""
    from mrw.media.frames import _select, _ticks

    times = [0.0]
    for delay in delays_ms[:-1]:
        times.append(times[-1] + delay / 1000)
    timeline = SimpleNamespace(times=times, duration_s=sum(delays_ms) / 1000)
    shown, ticks = _ticks(timeline, fps)
    return [times[shown[i]] for i in _select(len(ticks), num_frames, "uniform", None)]


def frame_labels(
    clip: ClipMoments, num_frames: int, fps: float, values: dict[tuple[str, str], int]
) -> np.ndarray:
    """`[num_frames, V]` float64: 1 where the value shows on that sampled frame."""
    out = np.zeros((num_frames, len(values)))
    for t, time_s in enumerate(sampled_frame_times(clip.delays_ms, num_frames, fps)):
        for index in clip.visible(time_s):
            for value in clip.moments[index]:
                if value in values:
                    out[t, values[value]] = 1.0
    return out


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights `[F, V]` and intercept `[V]` (centred closed form)."""
    mean_x, mean_y = x.mean(0), y.mean(0)
    xc = x - mean_x
    gram = xc.T @ xc
    scale = max(np.trace(gram) / len(gram), 1e-12)
    weights = np.linalg.solve(gram + penalty * scale * np.eye(len(gram)), xc.T @ (y - mean_y))
    return weights, mean_y - mean_x @ weights


@dataclass
class _Split:
    features: SplitFeatures
    frame_values: np.ndarray  # [Nv, T, V] values shown on each frame
    clip_values: np.ndarray  # [Nv, V] values any of the clip's moments shows
    named: np.ndarray  # [Nt, V] 1 where the sentence names the value
    valid: np.ndarray  # [Nv, T] frames within each clip's length


def _prepare(
    split: SplitFeatures,
    labels: MomentLabels,
    values: dict[tuple[str, str], int],
    num_frames: int,
    fps: float,
) -> _Split:
    frames = np.stack(
        [frame_labels(labels.clips[v], num_frames, fps, values) for v in split.video_ids]
    )
    clip_values = np.zeros((len(split.video_ids), len(values)))
    for row, video in enumerate(split.video_ids):
        for moment in labels.clips[video].moments:
            for value in moment:
                if value in values:
                    clip_values[row, values[value]] = 1.0
    named = np.zeros((len(split.pair_ids), len(values)))
    for row, pair in enumerate(split.pair_ids):
        known = [values[v] for v in labels.named[pair].items() if v in values]
        named[row, known] = 1.0
    steps = np.arange(split.features.shape[1])
    valid = steps[None, :] < split.lengths.numpy()[:, None]
    return _Split(split, frames, clip_values, named, valid)


def _mean_features(split: _Split) -> np.ndarray:
    x = split.features.features.double().numpy()
    return (x * split.valid[..., None]).sum(1) / split.valid.sum(1, keepdims=True)


def _rsum(scores: np.ndarray, split: _Split) -> float:
    from mrw.bench.evaluator import evaluate_scores

    features = split.features
    evaluation = evaluate_scores(
        torch.from_numpy(scores).float(), features.video_ids, features.pair_ids, features.pair_video
    )
    return float(evaluation.metrics.rsum)


def _match_scores(predicted: np.ndarray, named: np.ndarray) -> np.ndarray:
    """`[..., V]` predicted indicators x `[Nt, V]` named values -> `[..., Nt]`: the lowest
    predicted indicator among the values a sentence names (a pair matches when all do)."""
    out = np.empty((*predicted.shape[:-1], len(named)))
    for row, mask in enumerate(named.astype(bool)):
        out[..., row] = predicted[..., mask].min(-1) if mask.any() else 0.0
    return out


def _mean_reader_scores(model: tuple[np.ndarray, np.ndarray], split: _Split) -> np.ndarray:
    weights, bias = model
    return _match_scores(_mean_features(split) @ weights + bias, split.named)  # [Nv, Nt]


def _max_reader_scores(model: tuple[np.ndarray, np.ndarray], split: _Split) -> np.ndarray:
    weights, bias = model
    x = split.features.features.double().numpy()
    per_frame = _match_scores(x @ weights + bias, split.named)  # [Nv, T, Nt]
    per_frame[~split.valid] = -np.inf
    return per_frame.max(1)


def _fit_reader(fit_x, fit_y, score, validation: _Split, test: _Split) -> ReaderResult:
    """Fit on train at every penalty, keep the best by validation rsum, report test."""
    best = None
    for penalty in PENALTIES:
        model = _ridge(fit_x, fit_y, penalty)
        rsum = _rsum(score(model, validation), validation)
        if best is None or rsum > best[1]:
            best = (penalty, rsum, model)
    penalty, validation_rsum, model = best
    return ReaderResult(penalty, validation_rsum, _rsum(score(model, test), test))


def probe(
    splits: dict[str, SplitFeatures],
    labels: dict[str, MomentLabels],
    num_frames: int,
    fps: float,
    dataset: str = "",
) -> Headroom:
    """Both readers (module doc) on z-scored `splits` ("train", "validation", "test").

    Args:
        splits: the harness's features `[Nv, T, F]` per split, already standardised.
        labels: each split's moment labels; every video and pair id of `splits` must be there.
        num_frames, fps: the sampling the features were cached with (for frame labels).

    Returns:
        `Headroom`: test rsum of each reader, the penalties chosen on validation, and the
        test split's ceiling and chance rsum.
    """
    from mrw.toy.ceiling import expected_recall

    seen = {v for clip in labels["train"].clips.values() for m in clip.moments for v in m}
    values = {value: i for i, value in enumerate(sorted(seen))}
    prepared = {
        name: _prepare(splits[name], labels[name], values, num_frames, fps)
        for name in ("train", "validation", "test")
    }
    train = prepared["train"]
    mean = _fit_reader(
        _mean_features(train), train.clip_values, _mean_reader_scores, *_eval_splits(prepared)
    )
    x = train.features.features.double().numpy()[train.valid]
    maximum = _fit_reader(
        x, train.frame_values[train.valid], _max_reader_scores, *_eval_splits(prepared)
    )
    test, test_labels = splits["test"], labels["test"]
    matches = np.array(
        [
            [
                any(set(test_labels.named[p].items()) <= m for m in test_labels.clips[v].moments)
                for v in test.video_ids
            ]
            for p in test.pair_ids
        ]
    )
    own = matches[:, test.pair_video.numpy()]  # columns in pair order: query i's clip is i
    everything = np.ones_like(own)
    ceiling = sum(sum(expected_recall(m).values()) for m in (own, own.T))
    chance = sum(sum(expected_recall(m).values()) for m in (everything, everything.T))
    return Headroom(dataset, len(test.pair_ids), mean, maximum, ceiling, chance)


def _eval_splits(prepared: dict[str, _Split]) -> tuple[_Split, _Split]:
    return prepared["validation"], prepared["test"]


def measure(dataset: str, progress: bool = False) -> Headroom:
    """`probe` on a catalogued dataset's cached features at its default settings (extracted
    first when missing).

    Raises:
        MRWError: no moment labels for the dataset, or features that cannot be extracted.
    """
    from mrw.bench.features import extract_features, prepare_inputs
    from mrw.bench.options import RunOptions

    labels = {s: load_moment_labels(dataset, s) for s in ("train", "validation", "test")}
    options = RunOptions(dataset=dataset, progress=progress).resolved()
    splits = {
        s: extract_features(options.feature_spec(s), "cpu", progress=progress)[0]
        for s in ("train", "validation", "test")
    }
    splits = prepare_inputs(splits, bool(options.standardize_features), options.feature_mix)
    return probe(splits, labels, options.num_frames, options.fps, dataset)


def format_headroom(result: Headroom) -> str:
    """The probe as a plain-text table (test rsum; penalty chosen on validation)."""
    rows = [
        ("mean reader (ridge, mean-pooled frames)", result.mean_reader),
        ("max reader (ridge per frame, best frame)", result.max_reader),
    ]
    lines = [
        f"{result.dataset}: headroom probe, test split ({result.test_pairs} pairs), rsum",
        f"{'':<42}{'test':>8}{'val':>8}{'% ceil':>8}{'penalty':>9}",
    ]
    for name, r in rows:
        share = 100 * r.test_rsum / result.ceiling
        lines.append(
            f"{name:<42}{r.test_rsum:8.1f}{r.validation_rsum:8.1f}{share:8.1f}{r.penalty:9.0e}"
        )
    lines += [
        f"{'ceiling (perfect perception)':<42}{result.ceiling:8.1f}",
        f"{'chance':<42}{result.chance:8.1f}",
        f"max - mean: {result.gap:+.1f} rsum "
        + (
            "(one vector per clip loses what the sentences ask: K > 1 can pay)"
            if result.gap >= 10
            else "(one vector per clip keeps nearly everything: K > 1 has little to win)"
        ),
    ]
    return "\n".join(lines)
