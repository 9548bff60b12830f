"""The dataset catalogue: one typed record per named dataset, asked by every other module.

A record says what a dataset is (modality, splits, sentences per video), where its prepared
copy lives, how a user obtains it, and how the harness and `reproduce` train on it by default
(backbone, frames, image size, epochs) and as the paper did (K, T, sizes, reference numbers).
The loader (`mrw.dataset.resolve`), the feature cache, the runner and `reproduce` ask the
catalogue once instead of testing names, so adding a dataset is one `DatasetRecord` plus, for
a dataset made locally, its builder (MTEB's `TaskMetadata` is the model: typed, validated,
unknown fields refused).

Records register themselves with `register_dataset`; `list_datasets()` and `get_dataset(name)`
read them. A folder or a hub id that is not in the catalogue gets `DEFAULTS` (ResNet-152
features at 224 px, 30 epochs), so any dataset in the MRW format trains without a record.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from mrw.core.errors import MRWError

SPLITS = ("train", "validation", "test")
"""The splits of every dataset, in this order (the evaluated split is validation or test)."""

Modality = Literal["video", "image"]


class UnknownDatasetError(MRWError):
    """A dataset name that is not in the catalogue."""


@dataclass(frozen=True, kw_only=True)
class TrainingDefaults:
    """How the harness trains on a dataset when a run does not say otherwise.

    Attributes:
        backbone: frame feature extractor (`resnet152`, or `histogram` for the toy set).
        weights: the backbone's torchvision weights (`IMAGENET1K_V1`, the original ImageNet
            weights of the PVSE paper's era; `IMAGENET1K_V2`; `DEFAULT`) or `none` (random
            initialisation).
        image_size: frames are resized to this many pixels (shorter side, then centre crop).
        num_frames: T, frames sampled per clip.
        fps: sampling rate in frames per second before the T frames are spread.
        epochs: training epochs.
        batch_size: training pairs per batch.
        standardize_features: z-score the cached frame features per dimension with training
            statistics before any method sees them (`mrw.bench.data.standardized`).
        feature_mix: > 0: then mix the z-scored features into this many dimensions with a
            fixed random projection and tanh, and z-score again (toy v4,
            `mrw.bench.toy_features.mixed`); 0: off.
    """

    backbone: str = "resnet152"
    weights: str = "IMAGENET1K_V1"
    image_size: int = 224
    num_frames: int = 8
    fps: float = 8.0
    epochs: int = 30
    batch_size: int = 128
    standardize_features: bool = False
    feature_mix: int = 0

    def __post_init__(self) -> None:
        if self.feature_mix < 0:
            raise ValueError(f"feature_mix must be >= 0, got {self.feature_mix}")
        for name in ("image_size", "num_frames", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.fps > 0:
            raise ValueError(f"fps must be > 0, got {self.fps}")


@dataclass(frozen=True, kw_only=True)
class PaperSettings:
    """A dataset as a paper trains on it: the settings `reproduce` uses and the released sizes
    its GPU-time estimate needs.

    Attributes:
        table: the paper's table (`table3` TGIF, `table4` MRW in Song & Soleymani, CVPR 2019).
        k: the paper's number of embeddings K.
        training: the paper's features and schedule (its T is `training.num_frames`).
        hardest_negative: whether the ranking losses use the hardest negative in the batch
            (VSE++'s max violation) rather than the sum over negatives.
        figures: whether `reproduce fig5|fig6|fig7` runs on it by default (the paper's did).
        videos: videos in the released dataset (feature extraction work).
        train_pairs: training pairs per epoch.
        eval_pairs: validation + test sentences scored per epoch and at the end.
        reference: the paper's reported numbers, `{row: {metric: value}}` (may be empty).
        table_k: the table's PVSE rows, one per K (default: K=1 and `k`, as the paper).
        hardest_negative_rows: methods that also get a row with the hardest negative
            (`max_violation=True`) where the table sums over negatives (VSE++ beside VSE0).
        attention_diversity_k: also a PVSE row at this K with the diversity term on the
            attention maps (`div_on="attention"`, this toolkit's extension); None: no row.
        k_grid: Figure 5's values of K.
        ablation_k_grid: Figure 6's values of K (each for the full model and the ablations).
        method_settings: config fields set for every method whose config has them (e.g. the
            embedding size), so the rows of a table differ only in their method.
        pvse_settings: PVSE config fields of the paper's setting (its loss, where the baselines
            keep their own papers').
    """

    table: str
    k: int
    training: TrainingDefaults
    hardest_negative: bool = True
    figures: bool = True
    videos: int
    train_pairs: int
    eval_pairs: int
    reference: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    table_k: tuple[int, ...] = ()
    hardest_negative_rows: tuple[str, ...] = ()
    attention_diversity_k: int | None = None
    k_grid: tuple[int, ...] = tuple(range(9))
    ablation_k_grid: tuple[int, ...] = tuple(range(1, 9))
    method_settings: Mapping[str, Any] = field(default_factory=dict)
    pvse_settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RemoteFile:
    """A file of a published release, with the checksum it is pinned to.

    `sha256` is the SHA-256 of the bytes; `git_sha1` is a git blob id (what GitHub's
    repository tree gives). A file with neither is downloaded but never read until the user
    pins it (`mrw download --sha256`).
    """

    name: str  # relative path in the local copy, e.g. "splits/test.txt"
    url: str
    sha256: str | None = None
    git_sha1: str | None = None

    def with_base(self, old_base: str, new_base: str) -> RemoteFile:
        """The same file served from a mirror (or a test server)."""
        if not self.url.startswith(old_base):
            return self
        return RemoteFile(
            self.name,
            new_base.rstrip("/") + "/" + self.url[len(old_base) :].lstrip("/"),
            self.sha256,
            self.git_sha1,
        )


@dataclass(frozen=True, kw_only=True)
class PublishedRelease:
    """Where a dataset's authors published it (`mrw download NAME` fetches these files).

    Attributes:
        base_url: the folder the files are under (a `--mirror` replaces it).
        homepage: the page that documents the release.
        files: every file, each pinned to a checksum where one is known.
    """

    base_url: str
    homepage: str
    files: tuple[RemoteFile, ...]


FULL_SPLIT = "full-split"
"""The protocol of every dataset without a name of its own: every query of the evaluated split
against the whole split."""


@dataclass(frozen=True, kw_only=True)
class Protocols:
    """A dataset's standard evaluation protocols, by the names protocol cards carry
    (`mrw.core.protocol.ProtocolCard.protocol`).

    Attributes:
        whole: every sentence of the split against every video of it (COCO: `coco-5k`; TGIF:
            `tgif-all-sentences`); `full-split` for most datasets.
        one_sentence: one sentence per video scored 1:1 (the reference code's TGIF protocol,
            `tgif-paper`; `RunOptions.one_sentence_per_video`), when the dataset names one.
        folds: the fold protocol of `DatasetRecord.test_folds` (COCO's `coco-1k-x5`).
    """

    whole: str = FULL_SPLIT
    one_sentence: str | None = None
    folds: str | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every standard protocol's name, the paper's first where the dataset has one."""
        return tuple(n for n in (self.one_sentence, self.folds, self.whole) if n)


@dataclass(frozen=True, kw_only=True)
class DatasetRecord:
    """One named dataset of the catalogue.

    Attributes:
        name: what users type (`load_dataset(name)`, `--dataset name`).
        version: the dataset's version; a locally generated set names its folder with it, so a
            changed generator never reuses a stale copy or its cached features.
        description: one line for `mrw-bench list` and the dataset card.
        modality: `video` (clips, several frames) or `image` (one frame).
        how_to_get: what to run when the prepared copy is missing (completes "to get it, ...").
        builder: `"module:function"` that builds the dataset into a folder given as its one
            argument, for a dataset made locally (the toy set); None for downloaded ones.
        sentences_per_video: sentences per video in the evaluated splits (1 = one-to-one).
        training: the harness's defaults on this dataset.
        paper: the paper's settings, for `mrw-bench reproduce` (None: no paper table).
        folder_name: the prepared copy's folder under `cache_root()/datasets` (default: name,
            plus `-v{version}` for a built dataset).
        test_folds: (folds, images per fold) of an extra protocol on the test split, reported
            beside the whole split: MS-COCO's "1K" is (5, 1000), the mean over five folds of
            1,000 test images (`mrw.bench.evaluator.fold_metrics`). None: no folds.
        release: where the original authors published it, with pinned checksums (None: not
            downloadable from its authors).
        run_depth: documents per query in the harness's run files by default (None: the
            whole gallery), chosen so every reported metric stays exact or honestly bounded
            and the pair stays small (`mrw.bench.runfiles`).
        moment_labels: `"module:function"` returning a split's moment labels
            (`mrw.toy.moments.MomentLabels`) for `mrw-bench headroom`; None: the dataset
            carries none.
        protocols: the dataset's standard protocols' names (the protocol cards of its runs,
            `mrw.bench.protocol_cards`).
    """

    name: str
    version: str
    description: str
    modality: Modality = "video"
    how_to_get: str = ""
    builder: str | None = None
    sentences_per_video: int = 1
    training: TrainingDefaults = field(default_factory=TrainingDefaults)
    paper: PaperSettings | None = None
    folder_name: str | None = None
    test_folds: tuple[int, int] | None = None
    release: PublishedRelease | None = None
    run_depth: int | None = None
    moment_labels: str | None = None
    protocols: Protocols = field(default_factory=Protocols)

    def __post_init__(self) -> None:
        if not self.name or os.sep in self.name or self.name.startswith("."):
            raise ValueError(f"bad dataset name {self.name!r}")
        if self.modality not in ("video", "image"):
            raise ValueError(f"modality must be video or image, got {self.modality!r}")
        if self.builder is not None and ":" not in self.builder:
            raise ValueError(f"builder must be 'module:function', got {self.builder!r}")
        if not self.builder and not self.how_to_get:
            raise ValueError(f"{self.name}: a dataset needs a builder or a how_to_get message")
        if self.sentences_per_video < 1:
            raise ValueError("sentences_per_video must be >= 1")
        if self.run_depth is not None and self.run_depth < 1:
            raise ValueError(f"run_depth must be >= 1 or None, got {self.run_depth}")
        if self.test_folds is not None and min(self.test_folds) < 1:
            raise ValueError(f"test_folds must be (folds, images) >= 1, got {self.test_folds}")

    @property
    def folder(self) -> Path:
        """The prepared copy: `cache_root()/datasets/{folder_name}`."""
        default = f"{self.name}-v{self.version}" if self.builder else self.name
        return cache_root() / "datasets" / (self.folder_name or default)

    def build(self, out_dir: Path) -> Path:
        """Build a locally made dataset into `out_dir` with its builder.

        Raises:
            MRWError: the dataset has no builder (it is downloaded or imported).
        """
        if not self.builder:
            raise MRWError(f"the {self.name} dataset is not built locally; {self.how_to_get}")
        module, function = self.builder.split(":")
        make: Callable[[Path], Path] = getattr(importlib.import_module(module), function)
        return Path(make(out_dir))


DEFAULTS = TrainingDefaults()
"""Training defaults for a dataset folder or hub id that is not in the catalogue."""

_CATALOG: dict[str, DatasetRecord] = {}


def register_dataset(record: DatasetRecord, *, replace: bool = False) -> DatasetRecord:
    """Add `record` to the catalogue (a new dataset needs nothing else).

    Raises:
        ValueError: a different record already has that name and `replace` is false.
    """
    existing = _CATALOG.get(record.name)
    if existing is not None and existing != record and not replace:
        raise ValueError(f"dataset {record.name!r} is registered twice")
    _CATALOG[record.name] = record
    return record


def unregister_dataset(name: str) -> None:
    """Remove a record (for tests that register a fixture dataset)."""
    _CATALOG.pop(name, None)


def list_datasets(pattern: str = "*") -> list[str]:
    """Names of the catalogued datasets matching a shell-style `pattern`, sorted."""
    return sorted(name for name in _CATALOG if fnmatch.fnmatch(name, pattern))


def get_dataset(name: str) -> DatasetRecord:
    """The record of a named dataset.

    Raises:
        UnknownDatasetError: `name` is not in the catalogue.
    """
    try:
        return _CATALOG[name]
    except KeyError:
        known = ", ".join(list_datasets())
        raise UnknownDatasetError(f"unknown dataset {name!r}; known: {known}") from None


def find_dataset(name_or_path: str | os.PathLike[str]) -> DatasetRecord | None:
    """The record for a dataset name, or None for a folder or hub id outside the catalogue."""
    return _CATALOG.get(os.fspath(name_or_path))


CARD_FILE = "README.md"
"""A dataset folder's card (YAML header, then markdown): what `mrw.dataset` writes last."""
CARD_IDENTITY = "mrw_dataset"
"""The card's YAML field naming the catalogued dataset a folder was built as: `{name, version}`
(`identity_metadata`), so a folder built with `--out` gets its dataset's defaults."""


def identity_metadata(name: str) -> dict[str, dict[str, str]]:
    """The card field (`CARD_IDENTITY`) that marks a folder as a build of catalogued `name`.

    Raises:
        UnknownDatasetError: `name` is not in the catalogue.
    """
    record = get_dataset(name)
    return {CARD_IDENTITY: {"name": record.name, "version": record.version}}


def card_header(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML header of a dataset folder's card; empty when there is no card or no header.

    Raises:
        ValueError: the header is not readable YAML.
    """
    import yaml

    path = Path(folder) / CARD_FILE
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    if not text.startswith("---"):
        return {}
    try:
        header = yaml.safe_load(text.split("---", 2)[1])
    except (yaml.YAMLError, IndexError):
        raise ValueError(f"{path}: unreadable YAML header") from None
    return header if isinstance(header, dict) else {}


def dataset_record(name_or_path: str | os.PathLike[str]) -> DatasetRecord | None:
    """The catalogue record whose defaults apply: a name's own, or for a folder the record its
    card names (`CARD_IDENTITY`, written when the toolkit built it as that dataset, e.g.
    `mrw toy --out DIR`); None for any other folder or hub id.

    Unlike `find_dataset`, a folder stays that folder: this is for defaults (training,
    modality, run depth, fold protocol), never for where the data is.
    """
    record = find_dataset(name_or_path)
    if record is not None or not Path(name_or_path).is_dir():
        return record
    try:
        identity = card_header(name_or_path).get(CARD_IDENTITY)
    except ValueError:
        return None
    name = identity.get("name") if isinstance(identity, dict) else None
    return _CATALOG.get(name) if isinstance(name, str) else None


def training_defaults(name_or_path: str | os.PathLike[str]) -> TrainingDefaults:
    """The harness's defaults for a name or a folder built as a catalogued dataset (its
    record's, see `dataset_record`), else `DEFAULTS`."""
    record = dataset_record(name_or_path)
    return record.training if record else DEFAULTS


def cache_root() -> Path:
    """Where prepared datasets, releases and feature caches live: `$MRW_CACHE`, else
    `~/.cache/mrw`."""
    return Path(os.environ.get("MRW_CACHE") or Path.home() / ".cache" / "mrw").expanduser()


def prepared_dir(name: str) -> Path:
    """The local prepared copy of a named dataset (see `DatasetRecord.folder`).

    Raises:
        UnknownDatasetError: `name` is not in the catalogue.
    """
    return get_dataset(name).folder


# ---------------------------------------------------------------------------------------------
# The built-in datasets

TGIF_BASE = "https://raw.githubusercontent.com/raingo/TGIF-Release/master/data"
PVSE_BASE = "https://people.csail.mit.edu/yalesong/pvse"
# raingo/TGIF-Release `data/`: the TSV and the official splits. Checksums: SHA-256 of the
# split files as published, git blob ids (from the repository tree) for the larger files.
TGIF_RELEASE = PublishedRelease(
    base_url=TGIF_BASE,
    homepage="https://github.com/raingo/TGIF-Release",
    files=(
        RemoteFile(
            "tgif-v1.0.tsv",
            f"{TGIF_BASE}/tgif-v1.0.tsv",
            git_sha1="0e2385be39b9b818006cf8a562d4a8dcf227a5ea",
        ),
        RemoteFile(
            "splits/train.txt",
            f"{TGIF_BASE}/splits/train.txt",
            git_sha1="d93c2805111e702c3b11d2dc14b2991a8c7bc0ae",
        ),
        RemoteFile(
            "splits/val.txt",
            f"{TGIF_BASE}/splits/val.txt",
            sha256="c535500e8d2b4ad5555c7c947652f5920045f601b8dd3f1e52b33703bf5c7d0a",
        ),
        RemoteFile(
            "splits/test.txt",
            f"{TGIF_BASE}/splits/test.txt",
            sha256="1aaa17768fd8d1e21433d4e36cb2f2a0e8b4d170da4b697e27340904fc77c1f7",
        ),
    ),
)
# yalesong/pvse `data/prepare_mrw_dataset.sh`: mrw-v1.0.json + split/ in one archive. No
# checksum is published and none has been pinned here yet: until one is, the archive is
# unpacked only with `--sha256 HEX` naming the copy the user trusts (never on first use).
MRW_RELEASE = PublishedRelease(
    base_url=PVSE_BASE,
    homepage="https://github.com/yalesong/pvse",
    files=(RemoteFile("mrw-v1.0.tar.gz", f"{PVSE_BASE}/mrw-v1.0.tar.gz"),),
)

register_dataset(
    DatasetRecord(
        name="mrw",
        version="1.0",
        description="MRW: 50,107 reaction GIFs with the Reddit post titles they react to",
        how_to_get="run `mrw download mrw` (or build it from Reddit: `mrw collect`, "
        "`mrw clean`, `mrw build`)",
        # Full depth (5,000 x 5,000): MedR is ~1,600 (the paper's), and MeanR stays exact.
        run_depth=None,
        paper=PaperSettings(
            table="table4",
            k=5,
            training=TrainingDefaults(num_frames=4),
            # The paper's L_mil sums over negatives; the reference's MRW command agrees.
            pvse_settings={"max_violation": False},
            videos=50_107,
            train_pairs=44_107,
            eval_pairs=6_000,
        ),
        release=MRW_RELEASE,
    )
)
register_dataset(
    DatasetRecord(
        name="tgif",
        version="1.0",
        description="TGIF: animated GIFs with crowd-sourced descriptions (Li et al., CVPR 2016)",
        how_to_get="run `mrw download tgif`, or `mrw import tgif` on the original TGIF release",
        sentences_per_video=3,
        # R@k exact, MedR exact while <= 500, MeanR a lower bound; full depth would be 775M
        # lines (11,360 videos x 34,101 sentences, both directions).
        run_depth=500,
        protocols=Protocols(whole="tgif-all-sentences", one_sentence="tgif-paper"),
        paper=PaperSettings(
            table="table3",
            k=3,
            training=TrainingDefaults(num_frames=8),
            pvse_settings={"max_violation": False},  # the paper's L_mil (Eq. 4) sums negatives
            videos=100_000,
            train_pairs=80_000,
            eval_pairs=45_000,
        ),
        release=TGIF_RELEASE,
    )
)
# The toy set's frames: learning-free colour/tint/edge features (`mrw.bench.toy_features`),
# z-scored with training statistics so PIE-Net's attention over frames can act.
TOY_V3_TRAINING = TrainingDefaults(
    backbone="colour-edges",
    weights="none",
    image_size=64,
    epochs=12,
    standardize_features=True,
)
# Toy v4: the same clips and sentences, their z-scored features mixed into 16 shared
# dimensions (fewer than the 28 attribute values), so one vector per clip is a confusable
# superposition of its moments (chosen with `mrw-bench headroom` only: docs/dataset.md).
TOY_TRAINING = dataclasses.replace(TOY_V3_TRAINING, feature_mix=16)


def _toy_paper(training: TrainingDefaults, table: str) -> PaperSettings:
    """The toy table (docs/results.md) on a toy version: every ranking loss sums over
    negatives (from random initialisation the hardest-negative loss stays near 2 x margin
    there), plus VSE++ with its hardest negative as its own row."""
    return PaperSettings(
        table=table,
        k=5,
        training=training,
        hardest_negative=False,
        hardest_negative_rows=("vsepp",),
        figures=False,
        # Three kinds of moments: K=3 (and K=5, the paper's MRW K) against K=1 and K=0;
        # the claim's rows first.
        table_k=(1, 3, 0, 5),
        k_grid=tuple(range(6)),
        ablation_k_grid=(1, 3),
        # 256-d embeddings and GRUs instead of 1,024: 5.7x faster steps on a CPU.
        method_settings={"embed_dim": 256, "hidden_dim": 256, "code_dim": 256},
        videos=1_500,
        train_pairs=1_200,
        eval_pairs=300,
    )


TOY_DESCRIPTION = "synthetic polysemous clips (moments of different kinds), 1,500 pairs, "
register_dataset(
    DatasetRecord(
        name="toy",
        version="4",
        description=TOY_DESCRIPTION + "features mixed into one shared space; built offline in "
        "seconds",
        builder="mrw.toy.video:build_toy",
        training=TOY_TRAINING,
        paper=_toy_paper(TOY_TRAINING, "toy"),
        moment_labels="mrw.toy.moments:toy_moment_labels",
    )
)
# Toy v3, the negative control: the same clips, each kind of moment in its own block of the
# feature vector, so the mean over frames already holds every moment (docs/results.md).
register_dataset(
    DatasetRecord(
        name="toy-v3",
        version="3",
        description=TOY_DESCRIPTION + "one feature block per kind of moment (negative control)",
        builder="mrw.toy.video:build_toy",
        folder_name="toy-v3",
        training=TOY_V3_TRAINING,
        paper=_toy_paper(TOY_V3_TRAINING, "toy-v3"),
        moment_labels="mrw.toy.moments:toy_moment_labels",
    )
)

# Image-text sets: a still image is a one-frame clip; ResNet-152's last convolutional map
# (7 x 7 cells at 224 px) gives PIE-Net its local features (`--grid`, on by default here).
TOY_IMAGE_TRAINING = TrainingDefaults(
    backbone="histogram", weights="none", image_size=64, num_frames=1, epochs=12
)
register_dataset(
    DatasetRecord(
        name="toy-image",
        version="1",
        description="synthetic images with 2-4 objects, five captions each, built offline",
        modality="image",
        builder="mrw.toy.image:build_toy_image",
        sentences_per_video=5,
        training=TOY_IMAGE_TRAINING,
    )
)
IMAGE_TRAINING = TrainingDefaults(num_frames=1)
register_dataset(
    DatasetRecord(
        name="coco",
        version="2014-karpathy",
        description="MS-COCO 2014 with the Karpathy splits: 113,287 / 5,000 / 5,000 images, "
        "5 captions each",
        modality="image",
        how_to_get="run `mrw import coco --karpathy dataset_coco.json --images DIR` (DIR holding "
        "COCO's train2014/ and val2014/; without --images: URL-only), or put precomputed "
        "features in the cache with `mrw import precomp DIR --name coco` and train with "
        "--backbone precomp",
        sentences_per_video=5,
        training=IMAGE_TRAINING,
        test_folds=(5, 1000),
        protocols=Protocols(whole="coco-5k", folds="coco-1k-x5"),
        # PVSE's Table 2; K = 2 and batch 256 are the authors' released COCO model and their
        # README's training command (yalesong/pvse), 224 px crops of ResNet-152's 7 x 7 map.
        paper=PaperSettings(
            table="table2",
            k=2,
            training=TrainingDefaults(num_frames=1, batch_size=256),
            figures=False,
            videos=123_287,
            train_pairs=566_435,
            eval_pairs=50_000,
            reference={
                "pvse K=1 1K": {
                    "v2t R@1": 66.7,
                    "v2t R@5": 91.0,
                    "v2t R@10": 96.2,
                    "t2v R@1": 53.5,
                    "t2v R@5": 85.1,
                    "t2v R@10": 92.7,
                },
                "pvse 1K": {
                    "v2t R@1": 69.2,
                    "v2t R@5": 91.6,
                    "v2t R@10": 96.6,
                    "t2v R@1": 55.2,
                    "t2v R@5": 86.5,
                    "t2v R@10": 93.7,
                },
                "pvse K=1 5K": {
                    "v2t R@1": 41.7,
                    "v2t R@5": 73.0,
                    "v2t R@10": 82.9,
                    "t2v R@1": 30.6,
                    "t2v R@5": 61.4,
                    "t2v R@10": 73.6,
                },
                "pvse 5K": {
                    "v2t R@1": 45.2,
                    "v2t R@5": 74.3,
                    "v2t R@10": 84.5,
                    "t2v R@1": 32.4,
                    "t2v R@5": 63.0,
                    "t2v R@10": 75.0,
                },
            },
        ),
    )
)
register_dataset(
    DatasetRecord(
        name="flickr30k",
        version="karpathy",
        description="Flickr30K with the Karpathy splits: 29,000 / 1,014 / 1,000 images, "
        "5 captions each",
        modality="image",
        how_to_get="run `mrw import flickr30k --karpathy dataset_flickr30k.json --images DIR` "
        "(DIR: the flickr30k-images folder, from the Flickr30K request form), or "
        "`mrw import precomp DIR --name flickr30k` and train with --backbone precomp",
        sentences_per_video=5,
        training=IMAGE_TRAINING,
    )
)

CATALOG: Mapping[str, DatasetRecord] = MappingProxyType(_CATALOG)
"""Read-only view of every registered record, by name."""
