"""Re-hydration: fetch every `media_url` of a URL-only dataset through the collection
downloader (concurrent, retrying, SSRF-guarded, content-addressed) and write the dataset with
media bytes; media whose SHA-256 changed since publication is refused."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from mrw.core.atomic import atomic_write
from mrw.core.progress import progress_bar
from mrw.sources import SourceError

REHYDRATE_FILE = "rehydrate.json"
FETCHED_FILE = "fetched.jsonl"  # in the media store: URL -> stored media, so re-runs resume


def _downloader_config(workers: int, allow_private: bool):
    from mrw.net.downloader import DownloaderConfig

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
    from mrw.dataset import build_dataset, iter_rows, split_files
    from mrw.dataset.qrels import write_split_qrels
    from mrw.dataset.reader import check_folder
    from mrw.net.downloader import DownloadRequest, download_many
    from mrw.net.store import MediaStore

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
        for result in progress_bar(
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
        from mrw.media.frames import FrameDecodeError

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
        raise SourceError(f"no media could be downloaded ({dict(counts)}); nothing to re-hydrate")
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
