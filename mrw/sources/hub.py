"""Sharing datasets on the Hugging Face Hub.

- `download_hub(repo_id)`: `huggingface_hub.snapshot_download` into the HF cache; a URL-only
  dataset is then re-hydrated (`mrw.sources.rehydrate`).
- `publish(dir, repo_id)`: upload a dataset folder with `huggingface_hub` (token from the
  environment or the HF config, never from the command line).

The original authors' releases are `mrw.sources.originals`.
"""

from __future__ import annotations

import os
from pathlib import Path

from mrw.core.untrusted import UnsafeInputError, confined
from mrw.net.hfhub import hub_errors
from mrw.sources import SourceError
from mrw.sources.rehydrate import rehydrate


def download_hub(
    repo_id: str,
    out_dir: str | Path | None = None,
    *,
    revision: str | None = None,
    media: bool = True,
    workers: int = 16,
    allow_private: bool = False,
    progress: bool = True,
) -> Path:
    """Snapshot a dataset repo into the HF cache; re-hydrate it if it is URL-only.

    Returns the folder to load: the snapshot itself when it carries media, else `out_dir`
    (default `$MRW_CACHE/datasets/ORG--NAME`) with the media fetched.
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    from mrw.catalog import cache_root

    try:
        snapshot = Path(snapshot_download(repo_id, repo_type="dataset", revision=revision))
    except LocalEntryNotFoundError:
        raise SourceError(
            f"{repo_id} is not in the local HF cache and the Hub cannot be reached "
            "(HF_HUB_OFFLINE is set or there is no network)"
        ) from None
    except (*hub_errors(), ValueError) as exc:
        raise SourceError(f"cannot download {repo_id}: {_one_line(exc)}") from None
    if any((snapshot / "data").glob("*.parquet")) or not media:
        return snapshot
    if not any((snapshot / "urls").glob("*.parquet")):
        raise SourceError(
            f"{repo_id} is not an MRW-format dataset (no data/ or urls/ parquet files)"
        )
    out = Path(out_dir) if out_dir else cache_root() / "datasets" / repo_id.replace("/", "--")
    rehydrate(
        snapshot,
        out,
        cache_root() / "media",
        workers=workers,
        allow_private=allow_private,
        progress=progress,
    )
    return out


# ---------------------------------------------------------------------------------------------
# Publishing


def _one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception as one line, shortened at a word boundary, with its type when the
    message alone says little (`ConnectError: [Errno 111] Connection refused`)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if not text.startswith(type(exc).__name__):
        text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."


def dataset_files(dataset_dir: str | Path) -> list[tuple[str, int]]:
    """(path in the repo, size) of every file a publish uploads: the card, shards and qrels.

    Raises:
        SourceError: not a dataset folder, or a file in it (a link) that resolves outside it:
            a publish never uploads anything from outside the folder.
    """
    root = Path(dataset_dir)
    if not (root / "README.md").is_file() or not any(root.glob("*/*.parquet")):
        raise SourceError(f"{root} is not a dataset folder (needs README.md and parquet shards)")
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        try:
            confined(root, relative)
        except UnsafeInputError:
            raise SourceError(f"{path} points outside {root}; refusing to publish it") from None
        files.append((relative.as_posix(), path.stat().st_size))
    return files


def publish(
    dataset_dir: str | Path,
    repo_id: str,
    *,
    dry_run: bool = False,
    private: bool = False,
    message: str = "Upload MRW-format dataset",
) -> list[tuple[str, int]]:
    """Upload a dataset folder to the Hub as a dataset repo; returns what was (or would be) sent."""
    from mrw.dataset.card import validate_card

    files = dataset_files(dataset_dir)
    problems = validate_card((Path(dataset_dir) / "README.md").read_text(encoding="utf-8"))
    if problems:
        raise SourceError(
            f"{dataset_dir}/README.md is not a valid dataset card: {'; '.join(problems)}"
        )
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise SourceError(f"--repo must be ORG/NAME, got {repo_id!r}")
    if dry_run:
        return files
    from huggingface_hub import HfApi, get_token

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise SourceError("HF_HUB_OFFLINE is set: cannot upload (use --dry-run to list the files)")
    token = get_token()
    if not token:
        raise SourceError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        api.upload_folder(
            repo_id=repo_id,
            repo_type="dataset",
            folder_path=str(dataset_dir),
            commit_message=message,
            ignore_patterns=[".*", "**/.*"],
        )
    except hub_errors() as exc:
        raise SourceError(f"upload to {repo_id} failed: {_one_line(exc)}") from None
    return files
