"""Stored tunings (`mrw-bench tune`'s file): writing, reading, and training a row with its
entry (`run --tuning`, `reproduce --tuning`).

A tuning file is JSON: `{"format": "mrw-tuning", "format_version": 1, "dataset", "entries"}`,
one entry per row (method and untuned config overrides, `key`), holding the grid, each
point's validation curve, best epoch and epochs run, the epoch budget, patience, selection
rule and the choice (`mrw.bench.tune`).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mrw.bench.experiments import Experiment
from mrw.bench.options import RunOptions
from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError

FORMAT = "mrw-tuning"
FORMAT_VERSION = 1


class TuningError(MRWError):
    """A tuning file that is missing, unreadable, or has no entry for a run."""


def tuning_key(method: str, overrides: Mapping[str, Any]) -> str:
    """The row a tuning entry belongs to: the method and its (untuned) config overrides."""
    return json.dumps([method, dict(sorted(overrides.items()))], default=str)


def write_tuning(path: Path, dataset: str, entries: Sequence[Mapping[str, Any]]) -> Path:
    """Add `entries` to the tuning file at `path` (an entry of the same row is replaced)."""
    existing = load_tuning(path) if path.is_file() else {"dataset": dataset, "entries": []}
    if existing["dataset"] != dataset:
        raise TuningError(f"{path} holds a tuning of {existing['dataset']}, not {dataset}")
    keys = {entry["key"] for entry in entries}
    kept = [e for e in existing["entries"] if e["key"] not in keys]
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dataset": dataset,
        "entries": kept + list(entries),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "w") as handle:
        json.dump(document, handle, indent=2, default=str)
        handle.write("\n")
    return path


def load_tuning(path: str | Path) -> dict[str, Any]:
    """A tuning file written by `write_tuning`.

    Raises:
        TuningError: missing, unreadable, not a tuning file, or a `format_version` other
            than `FORMAT_VERSION` (named in the message).
    """
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise TuningError(f"--tuning {path}: cannot read a tuning file ({exc})") from None
    ours = isinstance(document, dict) and document.get("format") == FORMAT
    version = document.get("format_version", FORMAT_VERSION) if ours else FORMAT_VERSION
    if type(version) is not int or version != FORMAT_VERSION:  # not True, not 1.0
        raise TuningError(
            f"--tuning {path}: tuning file format_version {repr(version)[:40]} is not one "
            f"this toolkit reads ({FORMAT_VERSION})"
        )
    if not _is_tuning(document):
        raise TuningError(f"--tuning {path}: not a tuning file (written by mrw-bench tune)")
    return document


def _is_tuning(document: Any) -> bool:
    """Whether `document` has a tuning file's shape: its format, a dataset name, and entries
    each with a key, a label, a positive epoch budget, a patience (a positive whole number or
    null) and a choice of a positive learning rate and config fields."""

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value > 0

    def entry_ok(entry: Any) -> bool:
        if not isinstance(entry, dict):
            return False
        choice = entry.get("choice")
        return (
            isinstance(entry.get("key"), str)
            and isinstance(entry.get("label"), str)
            and whole(entry.get("epochs"))
            and (entry.get("patience") is None or whole(entry.get("patience")))
            and isinstance(choice, dict)
            and isinstance(choice.get("lr"), (int, float))
            and not isinstance(choice.get("lr"), bool)
            and choice["lr"] > 0
            and isinstance(choice.get("fields"), dict)
        )

    return (
        isinstance(document, dict)
        and document.get("format") == FORMAT
        and isinstance(document.get("dataset"), str)
        and isinstance(document.get("entries"), list)
        and all(entry_ok(e) for e in document["entries"])
    )


def tuned(
    tuning: Mapping[str, Any],
    method: str,
    overrides: Mapping[str, Any],
    options: RunOptions,
    source: str = "",
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(config overrides, run options) of a row trained with its stored tuning.

    The overrides gain the chosen knobs; the options set the chosen lr, the tuning's epoch
    budget and patience, and `tuning` (the entry, recorded in config.json).

    Raises:
        TuningError: another dataset's tuning, no entry for this row, or options that
            contradict it (a learning rate, another epoch budget or patience).
    """
    if tuning["dataset"] != options.dataset:
        raise TuningError(
            f"the tuning {source} is of {tuning['dataset']}, not of {options.dataset}"
        )
    key = tuning_key(method, overrides)
    entry = next((e for e in tuning["entries"] if e["key"] == key), None)
    if entry is None:
        rows = "; ".join(e["label"] for e in tuning["entries"]) or "none"
        raise TuningError(
            f"the tuning {source} has no entry for {method} {dict(overrides)} (tuned: {rows})"
        )
    if options.lr is not None:
        raise TuningError("--lr and --tuning both set the learning rate: give one")
    for name in ("epochs", "patience"):
        given = getattr(options, name)
        if given is not None and given != entry[name]:
            raise TuningError(
                f"{entry['label']} was tuned with {name} {entry[name]}, not {given}: "
                f"drop --{name} to use the tuning"
            )
    record = {"file": source, **{k: v for k, v in entry.items() if k != "key"}}
    run_options = {
        "lr": entry["choice"]["lr"],
        "epochs": entry["epochs"],
        "patience": entry["patience"],
        "tuning": record,
    }
    return {**overrides, **entry["choice"]["fields"]}, run_options


def tuned_experiments(
    experiments: Sequence[Experiment], tuning: Mapping[str, Any], options: RunOptions, source: str
) -> list[Experiment]:
    """`experiments` with their stored tuning applied (`tuned`), labels unchanged."""
    out = []
    for e in experiments:
        own = e.run_options(options)
        overrides, run_options = tuned(tuning, e.method, e.overrides, own, source)
        out.append(
            dataclasses.replace(e, overrides=overrides, options={**e.options, **run_options})
        )
    return out


def plot_tuning(document: Mapping[str, Any], path: str | Path) -> Path:
    """A PNG of each row's validation rsum per epoch at its chosen grid point (a dot marks
    the kept epoch; a curve that ends before the budget stopped early)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    budget = 0
    for entry in document["entries"]:
        choice = entry["choice"]
        point = next(
            p for p in entry["points"] if (p["lr"], p["fields"]) == (choice["lr"], choice["fields"])
        )
        epochs = range(1, len(point["curve"]) + 1)
        knobs = "".join(f", {k} {v}" for k, v in choice["fields"].items())
        (line,) = ax.plot(
            epochs, point["curve"], label=f"{entry['label']} (lr {choice['lr']:g}{knobs})"
        )
        ax.plot(point["best_epoch"], point["best_validation_rsum"], "o", color=line.get_color())
        budget = max(budget, entry["epochs"])
    ax.set_xlim(1, budget)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation rsum")
    ax.set_title(
        f"{document['dataset']}: validation curves at each row's chosen point (dot: kept epoch)"
    )
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = Path(path)
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", dpi=100, metadata={"Software": None})
    plt.close(fig)
    return path
