"""Protocol cards: the evaluation protocol behind a number, as one typed, versioned record.

Two retrieval results are comparable only when they were measured the same way: the same
truth (dataset, revision, split and qrels), the same query and gallery definition (TGIF's
paper protocol or all sentences; COCO 5K or the mean of five 1K folds), the same relevance
(one positive per query, or near-duplicates counted as positives too), the same directions,
run depth, feature extractor and post-processing. A `ProtocolCard` holds exactly those
fields; `ProtocolCard.card_hash` is the unit of comparability: run records, run files (a
`protocol.json` sidecar), leaderboard submissions and every results table carry the card,
and tables never rank results of two different cards together (`require_one_card`).

Direction names are the field's: `t2v` = text queries against a video gallery (text-to-video
retrieval), `v2t` = video queries against a sentence gallery.

>>> card = ProtocolCard(dataset="toy", revision="4", split="test", protocol="full-split",
...                     queries="every test sentence (t2v); every test video (v2t)",
...                     gallery="every test video (t2v); every test sentence (v2t)",
...                     features="toy-colour-edge")
>>> ProtocolCard.from_json(card.to_json()) == card
True
>>> card.differing_fields(card.replace(relevance="multi-positive"))
['relevance']
>>> len(card.card_hash)
64
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from mrw.core.atomic import atomic_write
from mrw.core.errors import MRWError

CARD_VERSION = 1  # of the record; a new field or a changed meaning bumps it
CARD_FILE = "protocol.json"  # the sidecar beside a run pair (`t2v.run.gz`, `v2t.run.gz`)
CARD_MAX_BYTES = 64 * 1024  # read at most this much of a card file
Relevance = Literal["one-positive", "multi-positive"]
Direction = Literal["t2v", "v2t"]
DIRECTION_MEANING: dict[str, str] = {
    "t2v": "text queries, video gallery",
    "v2t": "video queries, text gallery",
}
NO_POSTPROCESS = "none"
UNDECLARED = "undeclared"  # a field the producer of a result did not state


class ProtocolCardError(MRWError):
    """A protocol card that cannot be read, or results of different cards put side by side."""


@dataclass(frozen=True, kw_only=True)
class ProtocolCard:
    """How a retrieval result was measured; equal cards (equal `card_hash`) are comparable.

    Attributes:
        dataset: the dataset's catalogue name (or the folder/hub id it was read from).
        revision: the catalogue version or hub revision; None when unknown.
        truth_sha256: SHA-256 of the split's qrels pair, as `leaderboard.board.truth_fingerprint`
            computes it over `t2v.qrels` + `v2t.qrels`; None when not computed.
        split: the evaluated split (`test`, `val`, ...).
        protocol: the named query/gallery protocol: `full-split` (every query against the
            whole split), `tgif-paper`, `tgif-all-sentences`, `coco-5k`, `coco-1k-x5`, ...
        queries: the query set in words, per direction.
        gallery: the gallery in words, per direction.
        relevance: `one-positive` (the paired item only) or `multi-positive` (near-duplicate
            groups from `mrw clean` count as relevant too).
        directions: the directions scored, in the field's names (`DIRECTION_MEANING`).
        depth: documents per query in the run files; None = the whole gallery.
        features: the feature extractor and its weights' name (e.g. `resnet152/imagenet`,
            `clip:ViT-B-32/laion2b_s34b_b79k`); `undeclared` when not stated.
        features_sha256: SHA-256 of the extractor's weights file(s); None when not stated.
        postprocess: `none`, or the score post-processing applied (`dsl`, `qb-norm`,
            `inverted-softmax`, with its parameters, e.g. `qb-norm(bank=train,k=1,beta=20)`).
        version: `CARD_VERSION` of the record.
    """

    dataset: str
    revision: str | None = None
    truth_sha256: str | None = None
    split: str = "test"
    protocol: str = "full-split"
    queries: str = ""
    gallery: str = ""
    relevance: Relevance = "one-positive"
    directions: tuple[Direction, ...] = ("t2v", "v2t")
    depth: int | None = None
    features: str = UNDECLARED
    features_sha256: str | None = None
    postprocess: str = NO_POSTPROCESS
    version: int = CARD_VERSION

    def __post_init__(self) -> None:
        for name in ("dataset", "split", "protocol", "features", "postprocess"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ProtocolCardError(f"protocol card: {name} must be a non-empty string")
        for name in ("queries", "gallery"):
            if not isinstance(getattr(self, name), str):
                raise ProtocolCardError(f"protocol card: {name} must be a string")
        if self.revision is not None and not isinstance(self.revision, str):
            raise ProtocolCardError("protocol card: revision must be a string or null")
        if self.relevance not in get_args(Relevance):
            raise ProtocolCardError(
                f"protocol card: relevance must be one of {', '.join(get_args(Relevance))}, "
                f"got {self.relevance!r}"
            )
        directions = tuple(self.directions)
        if (
            not directions
            or any(d not in DIRECTION_MEANING for d in directions)
            or len(set(directions)) != len(directions)
        ):
            raise ProtocolCardError(
                "protocol card: directions must be t2v and/or v2t, each once, "
                f"got {list(directions)}"
            )
        object.__setattr__(self, "directions", directions)
        if self.depth is not None and (
            not isinstance(self.depth, int) or isinstance(self.depth, bool) or self.depth < 1
        ):
            raise ProtocolCardError(
                f"protocol card: depth must be an integer >= 1 or null, got {self.depth!r}"
            )
        for name in ("truth_sha256", "features_sha256"):
            value = getattr(self, name)
            if value is not None and not (
                isinstance(value, str)
                and len(value) == 64
                and all(c in "0123456789abcdef" for c in value)
            ):
                raise ProtocolCardError(f"protocol card: {name} must be a hex SHA-256 or null")
        if not isinstance(self.version, int) or isinstance(self.version, bool):
            raise ProtocolCardError(f"protocol card: version must be an integer ({CARD_VERSION})")
        if self.version != CARD_VERSION:
            raise ProtocolCardError(
                f"protocol card: version {self.version} is not {CARD_VERSION}; "
                "upgrade mrw-toolkit to read it"
            )

    def to_json(self) -> dict[str, Any]:
        """The card as a JSON-ready dict (directions as a list); `from_json` reads it back."""
        data = dataclasses.asdict(self)
        data["directions"] = list(self.directions)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ProtocolCard:
        """Read a card written by `to_json`.

        Raises:
            ProtocolCardError: not a mapping, an unknown or missing field, or a bad value.
        """
        if not isinstance(data, Mapping):
            raise ProtocolCardError("protocol card: expected a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ProtocolCardError(f"protocol card: unknown field(s) {', '.join(unknown)}")
        if "dataset" not in data:
            raise ProtocolCardError("protocol card: the dataset field is missing")
        values = dict(data)
        if "directions" in values:
            if not isinstance(values["directions"], list):
                raise ProtocolCardError("protocol card: directions must be a list")
            values["directions"] = tuple(values["directions"])
        try:
            return cls(**values)
        except TypeError as exc:  # a value of the wrong type reaching a comparison
            raise ProtocolCardError(f"protocol card: {exc}") from None

    @property
    def card_hash(self) -> str:
        """SHA-256 (hex) of the card's canonical JSON: equal exactly when every field is."""
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def card_id(self) -> str:
        """The first 12 hex digits of `card_hash`, for tables and file names."""
        return self.card_hash[:12]

    def replace(self, **changes: Any) -> ProtocolCard:
        """A copy with `changes` applied (validated like a new card)."""
        return dataclasses.replace(self, **changes)

    def differing_fields(self, other: ProtocolCard) -> list[str]:
        """Names of the fields whose values differ between this card and `other`."""
        return [
            f.name
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def summary(self) -> str:
        """One line for table headings, e.g. `toy r4 test · full-split · one-positive · ...`."""
        revision = f" r{self.revision}" if self.revision else ""
        depth = "full depth" if self.depth is None else f"depth {self.depth}"
        return " · ".join(
            (
                f"{self.dataset}{revision} {self.split}",
                self.protocol,
                self.relevance,
                "/".join(self.directions),
                depth,
                f"features {self.features}",
                f"post-processing {self.postprocess}",
                f"card {self.card_id}",
            )
        )


def group_by_card(cards: Iterable[tuple[str, ProtocolCard]]) -> dict[str, list[str]]:
    """Group result names by card: `{card_hash: [name, ...]}`, in first-seen order.

    Args:
        cards: `(result name, card)` pairs, e.g. run ids and their records' cards.
    """
    groups: dict[str, list[str]] = {}
    for name, card in cards:
        groups.setdefault(card.card_hash, []).append(name)
    return groups


def require_one_card(cards: Mapping[str, ProtocolCard]) -> ProtocolCard:
    """The one card shared by every result, for a table that ranks them together.

    Args:
        cards: result name -> its card (at least one).
    Returns:
        The common card.
    Raises:
        ProtocolCardError: the results have different cards; the message names the first two
            results that differ and every field in which they differ.
        ValueError: `cards` is empty.
    """
    if not cards:
        raise ValueError("require_one_card needs at least one result")
    (first_name, first), *rest = cards.items()
    for name, card in rest:
        fields = first.differing_fields(card)
        if fields:
            detail = ", ".join(
                f"{f} ({getattr(first, f)!r} vs {getattr(card, f)!r})" for f in fields
            )
            raise ProtocolCardError(
                f"{first_name} and {name} were measured under different protocols: {detail}; "
                "results of different protocol cards are never ranked together"
            )
    return first


def card_document(card: ProtocolCard) -> dict[str, Any]:
    """The card as stored everywhere it travels (a run record's `protocol_card`, the
    `protocol.json` sidecar, a submission's `protocol_card` field): `{"card": to_json(),
    "card_hash": card_hash}`; `card_from_document` reads it back."""
    return {"card": card.to_json(), "card_hash": card.card_hash}


def card_from_document(document: Any) -> ProtocolCard:
    """The card of a `card_document`, its hash checked.

    Raises:
        ProtocolCardError: not such a document, a bad card, or a `card_hash` that is not the
            card's (an edited card keeps no stale hash).
    """
    if not isinstance(document, Mapping) or set(document) != {"card", "card_hash"}:
        raise ProtocolCardError('protocol card: expected {"card": {...}, "card_hash": "..."}')
    card = ProtocolCard.from_json(document["card"])
    if document["card_hash"] != card.card_hash:
        raise ProtocolCardError("protocol card: card_hash does not match the card's fields")
    return card


def write_card_file(folder: str | os.PathLike[str], card: ProtocolCard) -> Path:
    """Write the `CARD_FILE` sidecar (`card_document`, JSON) into `folder`, atomically."""
    target = Path(folder) / CARD_FILE
    with atomic_write(target, "w") as handle:
        json.dump(card_document(card), handle, indent=2)
        handle.write("\n")
    return target


def read_card_file(path: str | os.PathLike[str]) -> ProtocolCard:
    """Read a `CARD_FILE` sidecar (or any file holding a `card_document`), at most
    `CARD_MAX_BYTES` of it (a card is a few hundred bytes; `/dev/zero` has no end).

    Raises:
        ProtocolCardError: unreadable, not a regular file, larger than `CARD_MAX_BYTES`, not
            JSON, or not a valid card document; the message names the file.
    """
    try:
        if not Path(path).is_file():
            raise ValueError("not a regular file")
        with open(path, "rb") as handle:
            data = handle.read(CARD_MAX_BYTES + 1)
        if len(data) > CARD_MAX_BYTES:
            raise ValueError(f"larger than {CARD_MAX_BYTES} bytes")
        document = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise ProtocolCardError(f"{path}: not a protocol card ({exc})") from None
    try:
        return card_from_document(document)
    except ProtocolCardError as exc:
        raise ProtocolCardError(f"{path}: {exc}") from None


def sidecar_card(*run_files: str | os.PathLike[str]) -> ProtocolCard | None:
    """The card of a run pair from the `CARD_FILE` beside its files; None when there is none.

    Raises:
        ProtocolCardError: an unreadable sidecar, or two sidecars (the files in different
            folders) holding different cards.
    """
    cards = {  # a sidecar that is there but not a regular file is refused, not skipped
        str(Path(f).parent): read_card_file(Path(f).parent / CARD_FILE)
        for f in run_files
        if os.path.lexists(Path(f).parent / CARD_FILE)
    }
    return require_one_card(cards) if cards else None


__all__ = [
    "CARD_FILE",
    "CARD_VERSION",
    "DIRECTION_MEANING",
    "NO_POSTPROCESS",
    "UNDECLARED",
    "ProtocolCard",
    "ProtocolCardError",
    "card_document",
    "card_from_document",
    "group_by_card",
    "read_card_file",
    "require_one_card",
    "sidecar_card",
    "write_card_file",
]
