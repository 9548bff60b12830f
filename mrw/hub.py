"""Getting and sharing datasets: the original releases, the Hugging Face Hub, re-hydration.

- `download_original("mrw"|"tgif")`: fetch the files the original authors published (resumable,
  checksummed), import them (`mrw.releases`) and re-hydrate the media.
- `download_hub(repo_id)`: `huggingface_hub.snapshot_download` into the HF cache; a URL-only
  dataset is then re-hydrated.
- `rehydrate(urls_dir, out_dir)`: fetch every `media_url` of a URL-only dataset through the
  collection downloader (concurrent, retrying, SSRF-guarded, content-addressed) and write the
  dataset with media bytes; media whose SHA-256 changed since publication is refused.
- `publish(dir, repo_id)`: upload a dataset folder with `huggingface_hub` (token from the
  environment or the HF config, never from the command line).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from mrw.archive import ArchiveError, safe_extract
from mrw.atomic import atomic_write
from mrw.errors import MRWError
from mrw.hfhub import hub_errors
from mrw.releases import Release, import_release, read_mrw_v1, read_tgif
from mrw.remote import RemoteFile, fetch, file_sha256
from mrw.untrusted import UnsafeInputError, check_http_url, confined, redact_url

REHYDRATE_FILE = "rehydrate.json"
FETCHED_FILE = "fetched.jsonl"  # in the media store: URL -> stored media, so re-runs resume


class HubError(MRWError):
    """A download, re-hydration or upload that cannot proceed."""


@dataclass(frozen=True)
class OriginalRelease:
    """Where the authors published a dataset, and how to read what they published."""

    name: str
    base_url: str
    files: tuple[RemoteFile, ...]
    homepage: str

    def mirrored(self, base_url: str | None) -> OriginalRelease:
        if not base_url:
            return self
        check_http_url(base_url, "--mirror")
        files = tuple(f.with_base(self.base_url, base_url) for f in self.files)
        return dataclasses.replace(self, base_url=base_url, files=files)

    def pinned(self, sha256: str | None) -> OriginalRelease:
        """The release with its one unpinned file pinned to `sha256` (given by the user).

        Raises:
            HubError: `sha256` is not 64 hex digits, or the release has no unpinned file.
        """
        if sha256 is None:
            return self
        if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise HubError(f"--sha256 must be 64 hex digits, got {sha256[:80]!r}")
        unpinned = [f for f in self.files if not (f.sha256 or f.git_sha1)]
        if len(unpinned) != 1:
            raise HubError(f"--sha256 applies to a one-archive release; {self.name} is pinned")
        files = tuple(
            dataclasses.replace(f, sha256=sha256.lower()) if f in unpinned else f
            for f in self.files
        )
        return dataclasses.replace(self, files=files)

    def read(self, folder: Path) -> Release:
        if self.name == "tgif":
            return read_tgif(folder / "tgif-v1.0.tsv", folder / "splits")
        return read_mrw_v1(*_unpack_mrw(folder / "mrw-v1.0.tar.gz", folder))


def _original_releases() -> dict[str, OriginalRelease]:
    from mrw.catalog import get_dataset, list_datasets

    releases = {}
    for name in list_datasets():
        published = get_dataset(name).release
        if published is not None:
            releases[name] = OriginalRelease(
                name, published.base_url, published.files, published.homepage
            )
    return releases


ORIGINAL_RELEASES: dict[str, OriginalRelease] = _original_releases()
"""The catalogue's datasets that `mrw download NAME` fetches from their authors."""


def list_releases() -> list[str]:
    return sorted(ORIGINAL_RELEASES)


def _unpack_mrw(archive: Path, folder: Path) -> tuple[Path, Path]:
    """Extract the MRW archive (regular files and folders only, confined, size-capped)."""
    target = folder / "mrw-v1.0"
    if not target.is_dir():
        try:
            safe_extract(archive, target)
        except ArchiveError as exc:
            raise HubError(f"cannot unpack: {exc}") from None
    found = sorted(target.rglob("mrw-v1.0.json"))
    if not found:
        raise HubError(f"{archive}: no mrw-v1.0.json inside")
    json_path = found[0]
    splits = json_path.parent / "split"
    if not splits.is_dir():
        raise HubError(f"{archive}: no split/ folder next to {json_path.name}")
    return json_path, splits


# ---------------------------------------------------------------------------------------------
# Re-hydration


def _downloader_config(workers: int, allow_private: bool):
    from mrw.collect.downloader import DownloaderConfig

    return DownloaderConfig(workers=workers, allow_private=allow_private)


def rehydrate(
    urls_dir: str | Path,
    out_dir: str | Path,
    media_dir: str | Path,
    *,
    workers: int = 16,
    allow_private: bool = False,
    progress: bool = True,
) -> dict:
    """Download the media of a URL-only dataset and write it with bytes (both configs).

    Pairs whose media cannot be fetched (dead link, changed bytes, not a video) are left out
    of the result and counted by status in `rehydrate.json`; the URL-only copy keeps them.
    Media fetched by an earlier run (listed in the store's `fetched.jsonl`) is not fetched
    again, so an interrupted re-hydration resumes; failed URLs are tried again.
    """
    from mrw.collect.downloader import DownloadRequest, download_many
    from mrw.collect.store import MediaStore
    from mrw.dataset import build_dataset, iter_rows, split_files
    from mrw.dataset.qrels import write_split_qrels
    from mrw.dataset.reader import check_folder

    urls_dir = Path(urls_dir)
    check_folder(urls_dir)
    splits = list(split_files(urls_dir, "urls"))
    url_of: dict[str, str] = {}
    sha_of: dict[str, str | None] = {}
    videos_of: dict[str, set[str]] = {split: set() for split in splits}
    for split in splits:
        for row in iter_rows(urls_dir, split, "urls"):
            url_of.setdefault(row.video_id, row.media_url or "")
            sha_of.setdefault(row.video_id, row.sha256)
            videos_of[split].add(row.video_id)
    store = MediaStore(media_dir)
    fetched = _load_fetched(store.root)
    status: dict[str, str] = {vid: "no_media_url" for vid, url in url_of.items() if not url}
    path_of: dict[str, Path] = {}

    def settle(vid: str, path: Path) -> None:
        """Accept media for a video unless the dataset names other bytes (a changed file)."""
        if sha_of[vid] and path.stem != sha_of[vid]:
            status[vid] = "checksum_mismatch"
        else:
            status[vid], path_of[vid] = "ok", path

    for vid, url in url_of.items():
        if url in fetched:  # fetched by an earlier (perhaps interrupted) run
            settle(vid, fetched[url])
    requests = [
        DownloadRequest(vid, url) for vid, url in url_of.items() if url and vid not in status
    ]
    results = download_many(requests, _downloader_config(workers, allow_private), store)
    with (store.root / FETCHED_FILE).open("a", encoding="utf-8") as index:
        for result in tqdm(
            results, total=len(requests), desc="media", unit="video", disable=not progress
        ):
            vid = result.request.key
            status[vid] = result.status
            if result.ok:
                index.write(
                    json.dumps({"url": result.request.url, "relpath": result.media.relpath}) + "\n"
                )
                index.flush()
                settle(vid, store.path(result.media))

    def rows(split: str) -> Iterator:
        """Rows with media, streamed; metadata the URL-only row already has is kept as is."""
        from mrw.dataset import VideoRow
        from mrw.frames import FrameDecodeError

        for row in iter_rows(urls_dir, split, "urls"):
            if row.video_id not in path_of:
                continue
            try:
                probed = VideoRow.from_media(
                    path_of[row.video_id].read_bytes(),
                    id=row.id,
                    video_id=row.video_id,
                    sentence=row.sentence,
                )
            except FrameDecodeError:  # passed the downloader's check, fails the full probe
                status[row.video_id] = "undecodable"
                del path_of[row.video_id]
                continue
            known = {k: v for k, v in dataclasses.asdict(row).items() if v is not None}
            known.pop("video_bytes", None)
            known.pop("video_path", None)
            yield dataclasses.replace(probed, **known)

    if not path_of:
        counts = Counter(status.values())
        raise HubError(f"no media could be downloaded ({dict(counts)}); nothing to re-hydrate")
    splits = [split for split in splits if videos_of[split] & path_of.keys()]  # no empty splits
    report: dict = {}

    def finish(folder: Path) -> None:  # inside the folder before it is swapped into place
        write_split_qrels(folder, splits)
        counts = Counter(status.values())  # complete: every row has been probed by now
        report.update(videos=len(url_of), by_status=dict(sorted(counts.items())))
        with atomic_write(folder / REHYDRATE_FILE, "w") as handle:
            json.dump(report, handle, indent=2, sort_keys=True)
            handle.write("\n")

    build_dataset(
        {split: rows(split) for split in splits},
        out_dir,
        configs=("default", "urls"),
        pretty_name=_pretty_name(urls_dir),
        progress=progress,
        finish=finish,
    )
    return report


def _load_fetched(media_root: Path) -> dict[str, Path]:
    """URL -> stored file of the downloads finished so far (a torn last line is ignored)."""
    fetched: dict[str, Path] = {}
    index = media_root / FETCHED_FILE
    if index.is_file():
        for line in index.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
                path = media_root / record["relpath"]
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
            if path.is_file():
                fetched[record["url"]] = path
    return fetched


def _pretty_name(dataset_dir: Path) -> str:
    card = dataset_dir / "README.md"
    if card.is_file():
        for line in card.read_text(encoding="utf-8").splitlines():
            if line.startswith("pretty_name:"):
                return line.split(":", 1)[1].strip().strip("'\"")
    return dataset_dir.name


# ---------------------------------------------------------------------------------------------
# Downloading


def download_original(
    name: str,
    out_dir: str | Path | None = None,
    *,
    mirror: str | None = None,
    sha256: str | None = None,
    media: bool = True,
    workers: int = 16,
    allow_private: bool = False,
    progress: bool = True,
) -> Path:
    """Fetch, verify and import an original release; re-hydrate its media unless `media=False`.

    Files go to `$MRW_CACHE/releases/NAME/` (a re-run resumes and skips verified files); the
    dataset goes to `out_dir`, by default where `mrw.load_dataset(NAME)` looks. Every file
    must match a pinned checksum before it is read: a release without a published one needs
    `sha256` (the SHA-256 of a copy the user trusts); without it the download stops after
    fetching and prints the SHA-256 it got, so the user can compare it.

    Raises:
        HubError: unknown release, a bad `mirror` URL, an unpinned file, or a failed import.
        FetchError: a transfer that fails or a checksum that differs.
    """
    from mrw.catalog import cache_root, prepared_dir

    if name not in ORIGINAL_RELEASES:
        raise HubError(f"unknown release {name!r}; known: {', '.join(list_releases())}")
    release = ORIGINAL_RELEASES[name].mirrored(mirror).pinned(sha256)
    root = cache_root() / "releases" / name
    for remote in release.files:
        path = fetch(remote, root / "files", progress=progress)
        if not (remote.sha256 or remote.git_sha1):
            raise HubError(
                f"{remote.name} from {redact_url(remote.url)} has no pinned checksum; its "
                f"SHA-256 is {file_sha256(path)}: if that matches a copy you trust, run again "
                "with --sha256 HEX"
            )
    out = Path(out_dir) if out_dir else prepared_dir(name)
    urls_dir = out if not media else root / "urls"
    import_release(release.read(root / "files"), urls_dir, progress=progress)
    if media:
        rehydrate(
            urls_dir,
            out,
            root / "media",
            workers=workers,
            allow_private=allow_private,
            progress=progress,
        )
    return out


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
        raise HubError(
            f"{repo_id} is not in the local HF cache and the Hub cannot be reached "
            "(HF_HUB_OFFLINE is set or there is no network)"
        ) from None
    except (*hub_errors(), ValueError) as exc:
        raise HubError(f"cannot download {repo_id}: {_one_line(exc)}") from None
    if any((snapshot / "data").glob("*.parquet")) or not media:
        return snapshot
    if not any((snapshot / "urls").glob("*.parquet")):
        raise HubError(f"{repo_id} is not an MRW-format dataset (no data/ or urls/ parquet files)")
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
        HubError: not a dataset folder, or a file in it (a link) that resolves outside it:
            a publish never uploads anything from outside the folder.
    """
    root = Path(dataset_dir)
    if not (root / "README.md").is_file() or not any(root.glob("*/*.parquet")):
        raise HubError(f"{root} is not a dataset folder (needs README.md and parquet shards)")
    files = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        try:
            confined(root, relative)
        except UnsafeInputError:
            raise HubError(f"{path} points outside {root}; refusing to publish it") from None
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
        raise HubError(
            f"{dataset_dir}/README.md is not a valid dataset card: {'; '.join(problems)}"
        )
    if "/" not in repo_id or repo_id.count("/") != 1:
        raise HubError(f"--repo must be ORG/NAME, got {repo_id!r}")
    if dry_run:
        return files
    from huggingface_hub import HfApi, get_token

    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise HubError("HF_HUB_OFFLINE is set: cannot upload (use --dry-run to list the files)")
    token = get_token()
    if not token:
        raise HubError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
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
        raise HubError(f"upload to {repo_id} failed: {_one_line(exc)}") from None
    return files
