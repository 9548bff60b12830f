"""The MRW dataset format and its users' entry points.

A built dataset is a plain Hugging Face dataset folder (parquet shards + a dataset card),
loadable with `datasets.load_dataset(DIR)` and no project code. One module per job:

- `schema`: the row (`VideoRow`), its HF features and the format's errors;
- `writer`: `build_dataset`, streamed, byte-reproducible shards written atomically;
- `card`: the dataset card (`README.md`) of a built folder;
- `reader`: shards, Arrow columns and rows of a built folder, without decoding;
- `loader`: `resolve` and `load_dataset` (frames decoded lazily with PyAV), `collate`;
- `inplace`: a local folder's splits as in-memory tables, media read from the shards on access;
- `qrels`: `export_qrels`, the TREC ground truth of a split.
"""

from mrw.dataset.loader import FrameTransform, collate, load_dataset, resolve
from mrw.dataset.qrels import export_qrels
from mrw.dataset.reader import iter_rows, read_table, split_files
from mrw.dataset.schema import (
    COLUMNS,
    DatasetFormatError,
    DatasetNotFoundError,
    VideoRow,
    features,
)
from mrw.dataset.writer import build_dataset

__all__ = [
    "COLUMNS",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "FrameTransform",
    "VideoRow",
    "build_dataset",
    "collate",
    "export_qrels",
    "features",
    "iter_rows",
    "load_dataset",
    "read_table",
    "resolve",
    "split_files",
]
