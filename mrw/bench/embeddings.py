"""A finished run's embeddings as one Parquet file (`mrw-bench embeddings RUN --out FILE`).

The model is rebuilt from the run folder and the cached features exactly as the explorer and
`mrw-bench heads` rebuild it (`mrw.bench.heads.load_trained`), and the run's evaluation split
is encoded by the evaluator's own `mrw.bench.evaluator.encode`, in fp32 on the CPU. The file
holds one row per (item, head): `kind` ("video" | "sentence"), `id` (the dataset's video id
or sentence id, as in the run files), `head` (0..K-1; 0 only for a one-embedding method) and
`embedding` (`fixed_size_list<float32>[D]`), exactly what the evaluator scores: PVSE and the
cosine methods score a pair by the best dot product over the K x K pairs of unit vectors
(Song & Soleymani 2019, eq. 6; `Method.similarity`). The schema's key-value metadata
(`mrw.*` keys, `METADATA_KEYS`) name the run, the method, its protocol card's hash, the
similarity and whether every row is a unit vector, so pandas, pyarrow, FiftyOne and vector
databases read the file without the toolkit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mrw.core.errors import MRWError

if TYPE_CHECKING:
    import pyarrow as pa
    from torch import Tensor

FORMAT_VERSION = "1"
UNIT_TOLERANCE = 1e-4  # |norm - 1| below which a row counts as a unit vector
# The schema metadata every file carries (bytes keys in pyarrow, str in pandas' attrs).
METADATA_KEYS = (
    "mrw.format",
    "mrw.run_id",
    "mrw.method",
    "mrw.dataset",
    "mrw.split",
    "mrw.protocol_card_hash",
    "mrw.protocol_card",
    "mrw.heads",
    "mrw.dim",
    "mrw.similarity",
    "mrw.unit_norm",
)
DEFAULT_SIMILARITY = "max over the K x K dot products (the cosine where mrw.unit_norm is true)"


class EmbeddingsError(MRWError):
    """A run whose embeddings cannot be exported (not finished, no model to rebuild)."""


@dataclass(frozen=True)
class Embeddings:
    """A run's evaluation split, encoded: `video` `[Nv, Kv, D]` and `text` `[Nt, Kt, D]`
    float32 (videos deduplicated, in `video_ids` order; sentences in `sentence_ids` order),
    and the metadata the file carries (`METADATA_KEYS`, str values)."""

    video_ids: list[str]
    sentence_ids: list[str]
    video: Tensor
    text: Tensor
    metadata: dict[str, str]

    @property
    def raw_bytes(self) -> int:
        """Bytes of the float32 vectors before compression (rows x D x 4)."""
        return 4 * (self.video[..., 0].numel() + self.text[..., 0].numel()) * self.video.shape[-1]


def is_embeddings_file(path: Path) -> bool:
    """Whether `path` is an earlier export of `mrw-bench embeddings` (a Parquet file whose
    schema metadata carries every `METADATA_KEYS` entry), the only file `--out` replaces."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError, pa.ArrowException):  # not Parquet, truncated, unreadable
        return False
    return all(key.encode() in metadata for key in METADATA_KEYS)


def describe_size(embeddings: Embeddings) -> str:
    """The file's rows and float32 size in words, e.g. "50,000 rows (5,000 videos x 5 heads +
    5,000 sentences x 5 heads) of 1,024 float32: 204.80 MB before zstd"."""
    (nv, kv, d), (nt, kt, _) = embeddings.video.shape, embeddings.text.shape

    def heads(k: int) -> str:
        return f"{k} head" + ("s" if k != 1 else "")

    return (
        f"{nv * kv + nt * kt:,} rows ({nv:,} videos x {heads(kv)} + {nt:,} sentences x "
        f"{heads(kt)}) of {d:,} float32: {embeddings.raw_bytes / 1e6:.2f} MB before zstd"
    )


def encode_run(run_dir: str | Path, say: Callable[[str], None] | None = None) -> Embeddings:
    """Rebuild a finished run's model and encode its evaluation split (see the module).

    Args:
        run_dir: a run folder of `mrw-bench run` (`metrics.json`, `config.json`,
            `vocab.json`, `checkpoint.pt`, `query_ranks.json`), its features still cached.
        say: called with one line before the encoding starts (what is encoded).
    Returns:
        The split's `Embeddings`, fp32 on the CPU.
    Raises:
        EmbeddingsError: no finished run there; a run with no checkpoint of its own
            (zero-shot), or one trained on decoded frames (a fine-tuned CNN or a method with
            its own image tower), whose embeddings cannot be recomputed from cached features;
            cached features that no longer hold the run's items.
        MRWError: the model cannot be rebuilt (`load_trained`).
    """
    import torch

    from mrw.bench.evaluator import encode
    from mrw.bench.heads import load_trained
    from mrw.bench.record import RunRecord, RunRecordError
    from mrw.methods.base import Method
    from mrw.methods.registry import get_method_class

    run_dir = Path(run_dir)
    try:
        record = RunRecord.from_disk(run_dir)
    except RunRecordError as exc:
        raise EmbeddingsError(str(exc)) from None
    method = get_method_class(record.method)
    options = record.config.get("options", {})
    if method.zero_shot:
        raise EmbeddingsError(f"{run_dir}: {record.method} is zero-shot: no checkpoint to encode")
    if method.visual_input == "frames" or options.get("finetune_epochs"):
        raise EmbeddingsError(
            f"{run_dir}: {record.method} was trained on decoded frames; only runs on cached "
            "features can be encoded again"
        )
    model, data, _ = load_trained(run_dir, record.split)
    expected = _run_items(run_dir)
    if expected != (data.split.video_ids, data.split.pair_ids):
        raise EmbeddingsError(
            f"{run_dir}: the cached features no longer hold the run's {record.split} items"
        )
    if say is not None:
        say(
            f"encoding {len(data.split.video_ids):,} videos and {len(data.split.pair_ids):,} "
            f"sentences ({record.method}, {record.split} split) on the CPU"
        )
    batch = int(options.get("eval_batch_size") or 256)
    video, text = encode(model, data, torch.device("cpu"), batch)
    if video.shape[-1] != text.shape[-1]:
        raise EmbeddingsError(
            f"{run_dir}: video and sentence embeddings differ in size "
            f"({video.shape[-1]} vs {text.shape[-1]})"
        )
    own = type(model).similarity is not Method.similarity
    similarity = DEFAULT_SIMILARITY
    if own:
        doc = (type(model).similarity.__doc__ or "its own score").strip().splitlines()[0]
        similarity = f"{record.method}'s own score: {doc}"
    norms = torch.cat([video.flatten(0, 1), text.flatten(0, 1)]).norm(dim=-1)
    card = record.protocol_card
    metadata = {
        "mrw.format": FORMAT_VERSION,
        "mrw.run_id": run_dir.resolve().name,
        "mrw.method": record.method,
        "mrw.dataset": record.dataset,
        "mrw.split": record.split,
        "mrw.protocol_card_hash": card.card_hash if card else "",
        "mrw.protocol_card": json.dumps(card.to_json(), sort_keys=True) if card else "",
        "mrw.heads": json.dumps({"video": video.shape[1], "sentence": text.shape[1]}),
        "mrw.dim": str(video.shape[-1]),
        "mrw.similarity": similarity,
        "mrw.unit_norm": "true" if bool(((norms - 1).abs() < UNIT_TOLERANCE).all()) else "false",
    }
    return Embeddings(data.split.video_ids, data.split.pair_ids, video, text, metadata)


def _run_items(run_dir: Path) -> tuple[list[str], list[str]]:
    """(video ids, sentence ids) the run evaluated, from its `query_ranks.json`."""
    path = run_dir / "query_ranks.json"
    try:
        ranks = json.loads(path.read_text(encoding="utf-8"))
        return list(ranks["v2t"]["queries"]), list(ranks["t2v"]["queries"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EmbeddingsError(f"{path}: unreadable ({exc})") from None


def embeddings_table(embeddings: Embeddings) -> pa.Table:
    """The file's table: videos then sentences, each item's K heads in a row (`head` 0..K-1);
    columns `kind` string, `id` string, `head` int16, `embedding` fixed_size_list<float32>[D];
    `embeddings.metadata` as the schema's key-value metadata."""
    import pyarrow as pa

    kinds, ids, heads, vectors = [], [], [], []
    for kind, names, emb in (
        ("video", embeddings.video_ids, embeddings.video),
        ("sentence", embeddings.sentence_ids, embeddings.text),
    ):
        n, k, _ = emb.shape
        kinds += [kind] * (n * k)
        ids.append(np.repeat(np.asarray(names, dtype=object), k))
        heads.append(np.tile(np.arange(k, dtype=np.int16), n))
        vectors.append(emb.reshape(n * k, -1).numpy().astype(np.float32, copy=False))
    dim = embeddings.video.shape[-1]
    flat = np.concatenate(vectors).reshape(-1)
    table = pa.table({
        "kind": pa.array(kinds, type=pa.string()),
        "id": pa.array(np.concatenate(ids), type=pa.string()),
        "head": pa.array(np.concatenate(heads), type=pa.int16()),
        "embedding": pa.FixedSizeListArray.from_arrays(pa.array(flat, type=pa.float32()), dim),
    })  # fmt: skip
    return table.replace_schema_metadata(embeddings.metadata)


def write_embeddings(embeddings: Embeddings, path: str | Path) -> int:
    """Write the table as one zstd-compressed Parquet file, atomically; returns its bytes."""
    import pyarrow.parquet as pq

    from mrw.core.atomic import atomic_write

    with atomic_write(path, "wb") as handle:
        pq.write_table(embeddings_table(embeddings), handle, compression="zstd")
    return Path(path).stat().st_size
