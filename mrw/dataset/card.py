"""The dataset card (`README.md`) of a built folder, made with `huggingface_hub.DatasetCard`.

The YAML header is a `DatasetCardData`: Hub metadata (`pretty_name`, `license`, `language`,
`task_categories`, `size_categories`, `tags`) plus the `configs` and `dataset_info` that plain
`datasets.load_dataset(DIR)` reads. The body says what the rows are, what plain `datasets`
needs to decode the `video` column, the license and how to cite. `validate_card` checks a
card offline against what the Hub's metadata validation checks (the Hub's own validator,
`DatasetCard.validate`, needs the network).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from mrw.dataset.schema import CONFIG_DIRS

if TYPE_CHECKING:
    import datasets

PVSE_CITATION = """@inproceedings{song2019polysemous,
  title     = {Polysemous Visual-Semantic Embedding for Cross-Modal Retrieval},
  author    = {Song, Yale and Soleymani, Mohammad},
  booktitle = {Proceedings of the IEEE/CVF Conference on Computer Vision and Pattern
               Recognition (CVPR)},
  pages     = {1979--1988},
  year      = {2019}
}"""
# Card fields every built dataset gets unless `card_metadata` says otherwise. The media of
# MRW (and TGIF) belong to their creators and the releases state no license: `unknown`.
DEFAULT_METADATA: dict[str, Any] = {
    "license": "unknown",
    "language": ["en"],
    "task_categories": ["text-retrieval"],
}
REQUIRED_FIELDS = ("pretty_name", "license", "language", "task_categories", "size_categories")
# Hub task categories a video-text dataset may name (a subset of the Hub's task list).
HUB_TASK_CATEGORIES = frozenset(
    {
        "text-retrieval",
        "text-to-video",
        "video-classification",
        "video-text-to-text",
        "feature-extraction",
        "sentence-similarity",
        "zero-shot-classification",
        "visual-question-answering",
    }
)
DECODING_NOTE = """## Decoding `video` with plain `datasets`

`datasets.load_dataset(...)` decodes the `video` column with
[torchcodec](https://pypi.org/project/torchcodec/), which needs FFmpeg 4, 5, 6 or 7 installed
on the system (`pip install torchcodec`, plus e.g. `apt install ffmpeg`); without them,
reading a row fails. To read rows without decoding, use
`ds.cast_column("video", datasets.Video(decode=False))` (bytes and path). `mrw.load_dataset(...)`
needs neither: it decodes with PyAV, whose wheels bundle FFmpeg.
"""


def size_category(rows: int) -> str:
    """The Hub's `size_categories` bucket for a number of rows (`n<1K`, `1K<n<10K`, ...)."""
    for limit, name in ((10**3, "n<1K"), (10**4, "1K<n<10K"), (10**5, "10K<n<100K"),
                        (10**6, "100K<n<1M"), (10**7, "1M<n<10M")):  # fmt: skip
        if rows < limit:
            return name
    return "10M<n<100M"


def dataset_card(
    feats: datasets.Features,
    counts: Mapping[str, Mapping[str, tuple[int, int]]],
    pretty_name: str,
    description: str,
    card_metadata: Mapping[str, Any],
) -> str:
    """The card's text.

    Args:
        feats: the rows' features (written as each config's `dataset_info`).
        counts: config -> split -> (rows, bytes) as written.
        pretty_name: the card's title and `pretty_name`.
        description: markdown placed after the generated summary (e.g. the datasheet).
        card_metadata: Hub fields overriding `DEFAULT_METADATA` (`license`, `language`,
            `task_categories`, ...); `citation` (BibTeX) replaces the PVSE paper's.

    Returns:
        The `README.md` text: YAML header from `DatasetCardData`, then the markdown body.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    metadata = {**DEFAULT_METADATA, **card_metadata}
    citation = metadata.pop("citation", PVSE_CITATION)
    configs_yaml, infos_yaml = [], []
    for index, (config, splits) in enumerate(counts.items()):
        entry: dict[str, Any] = {"config_name": config}
        if index == 0:
            entry["default"] = True
        entry["data_files"] = [
            {"split": split, "path": f"{CONFIG_DIRS[config]}/{split}-*"} for split in splits
        ]
        configs_yaml.append(entry)
        infos_yaml.append(
            {
                "config_name": config,
                "features": feats._to_yaml_list(),
                "splits": [
                    {"name": split, "num_bytes": nbytes, "num_examples": nrows}
                    for split, (nrows, nbytes) in splits.items()
                ],
            }
        )
    rows = max((sum(n for n, _ in splits.values()) for splits in counts.values()), default=0)
    metadata.setdefault("size_categories", [size_category(rows)])
    tags = ["video", "text-retrieval", "video-text-retrieval", "mrw"]
    data = DatasetCardData(
        pretty_name=pretty_name,
        tags=tags,
        **metadata,
        configs=configs_yaml,
        dataset_info=infos_yaml,
    )
    table = "\n".join(
        f"| {config} | {split} | {nrows:,} |"
        for config, splits in counts.items()
        for split, (nrows, _) in splits.items()
    )
    body = f"""# {pretty_name}

Video–sentence pairs in the MRW format: one row per pair; `video` holds the media bytes
(HF `Video()` feature) in the `default` config and is null in the URL-only `urls` config
(`media_url` and `sha256` identify the media). Load with `datasets.load_dataset(...)`, or with
decoded frames via `mrw.load_dataset(...)`.

| config | split | pairs |
|---|---|---|
{table}

Columns: {", ".join(f"`{name}`" for name in feats)}.

{DECODING_NOTE}"""
    if description:
        body += "\n" + description.strip() + "\n"
    license_text = f"`{metadata['license']}`."
    if metadata["license"] == "unknown":
        license_text += (
            " The media belong to their creators and the original release states no license; "
            "the pairs are shared for research on retrieval."
        )
    body += f"\n## License\n\n{license_text}\n\n## Citation\n\n```bibtex\n{citation.strip()}\n```\n"
    return str(DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{body}"))


def _resource(name: str) -> Any:
    return json.loads(resources.files("datasets.utils.resources").joinpath(name).read_text())


def validate_card(text: str) -> list[str]:
    """What the Hub's card validation would reject, checked offline; empty when the card is
    valid.

    Parses the card with `huggingface_hub.DatasetCard` (strict YAML), requires
    `REQUIRED_FIELDS`, checks `size_categories` and `language` against the lists `datasets`
    ships (`datasets/utils/resources`), `task_categories` against `HUB_TASK_CATEGORIES`, and
    parses `configs` and `dataset_info` with `datasets`' own readers.
    """
    import yaml
    from datasets.info import DatasetInfosDict
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCard

    try:
        card = DatasetCard(text, ignore_metadata_errors=False)
    except (ValueError, yaml.YAMLError) as exc:
        return [f"unreadable card metadata: {' '.join(str(exc).split())}"]
    data = card.data
    problems = [f"missing `{name}`" for name in REQUIRED_FIELDS if not data.get(name)]

    def listed(name: str) -> list[str]:
        value = data.get(name) or []
        return [value] if isinstance(value, str) else list(value)

    sizes, languages = set(_resource("size_categories.json")), _resource("languages.json")
    problems += [
        f"unknown size category {s!r}" for s in listed("size_categories") if s not in sizes
    ]
    problems += [f"unknown language {c!r}" for c in listed("language") if c not in languages]
    problems += [
        f"unknown task category {t!r}"
        for t in listed("task_categories")
        if t not in HUB_TASK_CATEGORIES
    ]
    try:
        MetadataConfigs.from_dataset_card_data(data)
        DatasetInfosDict.from_dataset_card_data(data)
    except (ValueError, TypeError, KeyError) as exc:
        problems.append(f"invalid configs or dataset_info: {' '.join(str(exc).split())}")
    if "```bibtex" not in card.text:
        problems.append("no citation (a ```bibtex block)")
    return problems
