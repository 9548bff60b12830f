"""The protocol card of a harness run (`mrw.core.protocol.ProtocolCard`), built from its
options, its dataset's catalogue record and what was evaluated.

The runner writes the card into the run record (`RunRecord.protocol_card`) and beside the run
files (the `protocol.json` sidecar); the fold metrics of a dataset with a fold protocol (COCO
1K) carry a card of their own (`fold_card`). `truth_sha256` is the fingerprint
`leaderboard.board.truth_fingerprint` gives the qrels of the evaluated pairs, computed from
the same lines `mrw qrels` writes, so a run's card and a leaderboard's truth agree exactly
when the run was scored on that truth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from leaderboard.board import truth_digest
from leaderboard.qrels import qrels_lines
from mrw.bench.options import RunOptions
from mrw.catalog import DatasetRecord, Protocols, dataset_record
from mrw.core.protocol import NO_POSTPROCESS, UNDECLARED, ProtocolCard
from mrw.dataset.qrels import multi_positive_pairs


def truth_sha256(
    sentence_ids: Sequence[str],
    sentence_videos: Sequence[str],
    groups: Mapping[str, str] | None = None,
) -> str:
    """The truth fingerprint of the evaluated pairs' qrels, without writing them.

    Args:
        sentence_ids: the evaluated sentences, in split order.
        sentence_videos: the video id of each sentence (same length).
        groups: video id -> near-duplicate group id for the multi-positive qrels
            (`mrw qrels --multi-positive`); None: the one-positive qrels.
    Returns:
        Hex SHA-256, equal to `leaderboard.board.truth_fingerprint` of the folder
        `mrw.dataset.export_qrels` writes for the same pairs (the same lines, hashed as files).
    Raises:
        leaderboard.errors.QrelsError: an id that qrels cannot hold (empty, with whitespace).
    """
    digests = {
        direction: hashlib.sha256("".join(qrels_lines(pairs)).encode()).hexdigest()
        for direction, pairs in multi_positive_pairs(
            list(sentence_ids), list(sentence_videos), groups
        ).items()
    }
    return truth_digest(digests["t2v"], digests["v2t"])


def standard_protocols(dataset: str) -> Protocols:
    """The dataset's standard protocol names (its catalogue record's; `full-split` for a folder
    or hub id that is not a catalogued dataset)."""
    record = dataset_record(dataset)
    return record.protocols if record else Protocols()


def card_dataset(dataset: str) -> str:
    """The card's `dataset`: the catalogue name (also of a folder built as a catalogued
    dataset), a folder's own name, or the hub id as given, never a machine's path, so equal
    truth on two machines gives equal cards (`truth_sha256` tells different copies apart)."""
    record = dataset_record(dataset)
    if record is not None:
        return record.name
    return Path(dataset).name if Path(dataset).is_dir() else dataset


def _item(record: DatasetRecord | None) -> str:
    return "image" if record is not None and record.modality == "image" else "video"


def _card_depth(
    run_files: Mapping[str, Mapping[str, int]], galleries: Mapping[str, int]
) -> int | None:
    """The card's depth: None when both run files hold the whole gallery, else the smallest
    depth of a truncated direction."""
    truncated = [
        int(info["depth"]) for d, info in run_files.items() if int(info["depth"]) < galleries[d]
    ]
    return min(truncated) if truncated else None


def features_name(features: Mapping[str, Any]) -> str:
    """`backbone/weights` of a run's `config.json` features (`undeclared` without a backbone)."""
    backbone = features.get("backbone")
    if not backbone:
        return UNDECLARED
    return f"{backbone}/{features.get('weights') or 'none'}"


def protocol_card(
    dataset: str,
    split: str,
    one_sentence_per_video: bool,
    *,
    truth_sha256: str | None,
    depth: int | None,
    features: Mapping[str, Any],
    features_sha256: str | None,
) -> ProtocolCard:
    """The card of a harness evaluation of the whole split (`run_card`, `planned_cards`).

    Args:
        dataset: `--dataset` (a catalogue name, or a folder/hub id: no revision then; see
            `card_dataset`).
        split: the evaluated split.
        one_sentence_per_video: `RunOptions.one_sentence_per_video` (TGIF's paper protocol).
        truth_sha256: the truth fingerprint (`truth_sha256`), None when not computed.
        depth: documents per query in the run files, None for the whole gallery.
        features: `config.json`'s `features` (or the options'): `backbone`, `weights`.
        features_sha256: SHA-256 of the feature extractor's weights file, when it names one.
    Returns:
        The card; `protocol` is the dataset's `Protocols.one_sentence` (else
        `one-sentence-per-video`) when one sentence per video is scored, else its
        `Protocols.whole`.
    """
    record = dataset_record(dataset)
    protocols = standard_protocols(dataset)
    item = _item(record)
    if one_sentence_per_video:
        protocol = protocols.one_sentence or "one-sentence-per-video"
        sentences = f"the last sentence of each {split} {item}"
    else:
        protocol, sentences = protocols.whole, f"every {split} sentence"
    items = f"every {split} {item}"
    return ProtocolCard(
        dataset=card_dataset(dataset),
        revision=record.version if record else None,
        truth_sha256=truth_sha256,
        split=split,
        protocol=protocol,
        queries=f"{sentences} (t2v); {items} (v2t)",
        gallery=f"{items} (t2v); {sentences} (v2t)",
        depth=depth,
        features=features_name(features),
        features_sha256=features_sha256,
        postprocess=NO_POSTPROCESS,
    )


def run_card(
    *,
    dataset: str,
    split: str,
    one_sentence_per_video: bool,
    sentence_ids: Sequence[str],
    sentence_videos: Sequence[str],
    video_count: int,
    run_files: Mapping[str, Mapping[str, int]],
    features: Mapping[str, Any],
    features_sha256: str | None,
) -> ProtocolCard:
    """The card of a finished run's metrics (the whole evaluated split, scored from its run
    files): `protocol_card` with the truth fingerprint of the evaluated pairs and the depth of
    the written run files.

    Args:
        dataset, split, one_sentence_per_video, features, features_sha256: as
            `protocol_card` takes them.
        sentence_ids, sentence_videos: the evaluated sentences and each one's video id.
        video_count: videos (images) in the evaluated gallery.
        run_files: `RunRecord.run_files` (`{"t2v"|"v2t": {"depth", ...}}`).
    """
    return protocol_card(
        dataset,
        split,
        one_sentence_per_video,
        truth_sha256=truth_sha256(sentence_ids, sentence_videos),
        depth=_card_depth(run_files, {"t2v": video_count, "v2t": len(sentence_ids)}),
        features=features,
        features_sha256=features_sha256,
    )


def planned_cards(options: RunOptions) -> list[ProtocolCard]:
    """The cards a run with `options` (resolved) will carry, known before any data is read:
    the whole split's, then the fold protocol's where the dataset has one (COCO's 1K).

    `truth_sha256` and `features_sha256` are None (the run computes them from the data and the
    weights file) and `depth` is the asked or catalogue depth (a run caps it at the gallery
    and at the scorer's size limit), so a finished run's card may differ in those fields.
    """
    record = dataset_record(options.dataset)
    card = protocol_card(
        options.dataset,
        options.split,
        options.one_sentence_per_video,
        truth_sha256=None,
        depth=(record.run_depth if record else None)
        if options.run_depth is None
        else (options.run_depth or None),
        features={"backbone": options.backbone, "weights": options.weights},
        features_sha256=None,
    )
    cards = [card]
    if record is not None and record.test_folds and options.split == "test":
        cards.append(fold_card(card, *record.test_folds))
    return cards


def fold_card(card: ProtocolCard, folds: int, fold_size: int) -> ProtocolCard:
    """The card of a run's fold metrics (`RunRecord.folds`: COCO's mean over five 1K folds).

    Fold metrics come from the full similarity matrix, not the run files: full depth.
    """
    record = dataset_record(card.dataset)
    item = _item(record)
    fold = f"its fold of {fold_size} {card.split} {item}s"
    return card.replace(
        protocol=standard_protocols(card.dataset).folds or f"folds-{folds}x{fold_size}",
        queries=f"the sentences of each of {folds} folds of {fold_size} {item}s (t2v); "
        f"the {item}s of each fold (v2t); metrics averaged over folds",
        gallery=f"{fold} (t2v); the sentences of {fold} (v2t)",
        depth=None,
    )


__all__ = [
    "card_dataset",
    "features_name",
    "fold_card",
    "planned_cards",
    "protocol_card",
    "run_card",
    "standard_protocols",
    "truth_sha256",
]
