"""The dataset card (`README.md`) of a built folder: YAML `configs` + `dataset_info` that
plain `datasets.load_dataset(DIR)` reads, and a short human-readable summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mrw.dataset.schema import CONFIG_DIRS

if TYPE_CHECKING:
    import datasets


def dataset_card(
    feats: datasets.Features,
    counts: Mapping[str, Mapping[str, tuple[int, int]]],
    pretty_name: str,
    description: str,
    card_metadata: Mapping[str, Any],
) -> str:
    import yaml

    configs_yaml = []
    infos_yaml = []
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
    header = {
        "pretty_name": pretty_name,
        "tags": ["video", "text-retrieval", "video-text-retrieval", "mrw"],
        **card_metadata,
        "configs": configs_yaml,
        "dataset_info": infos_yaml,
    }
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
"""
    if description:
        body += "\n" + description.strip() + "\n"
    return "---\n" + yaml.safe_dump(header, sort_keys=False, allow_unicode=True) + "---\n\n" + body
