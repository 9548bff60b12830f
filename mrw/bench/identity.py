"""What makes two runs the same experiment: one flattener, one list of bookkeeping, one hash.

An experiment is a method, its full method config and the run options, less the options that
only say how or where a run was made (`BOOKKEEPING`: the seed, folders, device, workers, the
depth of the run files written). Runs of one experiment that differ in seed are its repeats.
The runner names a run folder with `experiment_hash`, `sweep` and `reproduce` find finished
runs by it, and `compare` makes one row per experiment, so the three can never disagree.

>>> settings = experiment_settings("vsepp", {"margin": 0.2}, {"lr": 2e-4, "seed": 3})
>>> settings
{'method': 'vsepp', 'method_config.margin': 0.2, 'options.lr': 0.0002}
>>> experiment_hash(settings) == experiment_hash(experiment_settings(
...     "vsepp", {"margin": 0.2}, {"lr": 2e-4, "seed": 4, "device": "cuda"}))
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

# Run options that do not change what is learned or measured.
BOOKKEEPING = frozenset(
    {
        "seed",
        "run_id",
        "resume",
        "progress",
        "runs_dir",
        "device",
        "feature_workers",
        "eval_batch_size",
        "run_depth",  # how many documents the run files keep; metrics come from full ranks
        "postprocess",  # extra rows beside the raw result, which they never change
        "qb_bank_size",
    }
)


def flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested mappings -> dotted keys (`{"options": {"lr": 1}}` -> `{"options.lr": 1}`)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        else:
            out[name] = value
    return out


def experiment_settings(
    method: str, method_config: Mapping[str, Any], options: Mapping[str, Any]
) -> dict[str, Any]:
    """The settings that define an experiment, as flat dotted keys.

    Args:
        method: the registered method name.
        method_config: the method's full config (every field, defaults included), as a dict.
        options: the run options (`dataclasses.asdict(RunOptions)`, or a run record's
            `config["options"]`); `BOOKKEEPING` keys are dropped.
    Returns:
        `{"method": ..., "method_config.<field>": ..., "options.<field>": ...}` (a stored
        tuning's own settings included, the path of its file left out).
    """
    kept = {k: v for k, v in options.items() if k not in BOOKKEEPING}
    settings = flatten({"method": method, "method_config": method_config, "options": kept})
    settings.pop("options.tuning.file", None)  # where a stored tuning lies changes nothing
    return settings


def experiment_hash(settings: Mapping[str, Any]) -> str:
    """8 hex digits of the SHA-256 of `settings` as canonical JSON (sorted keys)."""
    canonical = json.dumps(dict(settings), sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]
