"""The original releases: fetch the files their authors published (resumable, checksummed
against the catalogue's pins), import them (`mrw.sources.releases`) and re-hydrate the media."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path

from mrw.core.provenance import file_sha256
from mrw.core.untrusted import check_http_url, redact_url
from mrw.net.archive import ArchiveError, safe_extract
from mrw.net.remote import RemoteFile, fetch
from mrw.sources import SourceError
from mrw.sources.rehydrate import rehydrate
from mrw.sources.releases import Release, import_release, read_mrw_v1, read_tgif


@dataclass(frozen=True)
class OriginalRelease:
    """Where the authors published a dataset, and how to read what they published."""

    name: str
    base_url: str
    files: tuple[RemoteFile, ...]
    homepage: str

    def mirrored(self, base_url: str | None) -> OriginalRelease:
        """The release with every file fetched from `base_url` instead (None/empty: as is).

        Raises:
            UnsafeInputError: If `base_url` is not an absolute http(s) URL with a host.
        """
        if not base_url:
            return self
        check_http_url(base_url, "--mirror")
        files = tuple(f.with_base(self.base_url, base_url) for f in self.files)
        return dataclasses.replace(self, base_url=base_url, files=files)

    def pinned(self, sha256: str | None) -> OriginalRelease:
        """The release with its one unpinned file pinned to `sha256` (given by the user).

        Raises:
            SourceError: `sha256` is not 64 hex digits, or the release has no unpinned file.
        """
        if sha256 is None:
            return self
        if not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
            raise SourceError(f"--sha256 must be 64 hex digits, got {sha256[:80]!r}")
        unpinned = [f for f in self.files if not (f.sha256 or f.git_sha1)]
        if len(unpinned) != 1:
            raise SourceError(f"--sha256 applies to a one-archive release; {self.name} is pinned")
        files = tuple(
            dataclasses.replace(f, sha256=sha256.lower()) if f in unpinned else f
            for f in self.files
        )
        return dataclasses.replace(self, files=files)

    def read(self, folder: Path) -> Release:
        """Read the downloaded files in `folder`: TGIF's TSV and splits, or MRW's archive.

        Raises:
            SourceError: If the MRW archive cannot be unpacked or lacks its JSON or `split/`.
        """
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
    """Names of the datasets `mrw download` can fetch from their authors, sorted."""
    return sorted(ORIGINAL_RELEASES)


def _unpack_mrw(archive: Path, folder: Path) -> tuple[Path, Path]:
    """Extract the MRW archive (regular files and folders only, confined, size-capped)."""
    target = folder / "mrw-v1.0"
    if not target.is_dir():
        try:
            safe_extract(archive, target)
        except ArchiveError as exc:
            raise SourceError(f"cannot unpack: {exc}") from None
    found = sorted(target.rglob("mrw-v1.0.json"))
    if not found:
        raise SourceError(f"{archive}: no mrw-v1.0.json inside")
    json_path = found[0]
    splits = json_path.parent / "split"
    if not splits.is_dir():
        raise SourceError(f"{archive}: no split/ folder next to {json_path.name}")
    return json_path, splits


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
        SourceError: unknown release, a bad `mirror` URL, an unpinned file, or a failed import.
        FetchError: a transfer that fails or a checksum that differs.
    """
    from mrw.catalog import cache_root, prepared_dir

    if name not in ORIGINAL_RELEASES:
        raise SourceError(f"unknown release {name!r}; known: {', '.join(list_releases())}")
    release = ORIGINAL_RELEASES[name].mirrored(mirror).pinned(sha256)
    root = cache_root() / "releases" / name
    for remote in release.files:
        path = fetch(remote, root / "files", progress=progress)
        if not (remote.sha256 or remote.git_sha1):
            raise SourceError(
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
