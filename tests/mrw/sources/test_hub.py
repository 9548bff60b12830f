"""Release downloads (resumable, checksummed), `mrw download`, re-hydration and `mrw publish`."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.net.remote import CHECKSUMS_FILE, FetchError, RemoteFile, fetch
from mrw.sources import hub, originals
from mrw.testing.release_host import ReleaseHost
from mrw.testing.reposts import gif_bytes, mp4_bytes, scene
from mrw.testing.system_tools import require

DATA = Path(__file__).resolve().parents[2] / "data" / "tgif"
BLOB = bytes(range(256)) * 1200  # 300 KiB
QUICK = {"progress": False, "backoff_s": 0.0}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_interrupted_transfer_resumes_with_a_range_request(tmp_path: Path) -> None:
    with ReleaseHost({"/f.bin": BLOB}) as host:
        host.cut_after["/f.bin"] = [100_000, 50_000]  # the connection drops twice
        path = fetch(RemoteFile("f.bin", host.url("/f.bin"), sha256=_sha(BLOB)), tmp_path, **QUICK)
        assert path.read_bytes() == BLOB
        # each retry asks only for the rest (bytes received before the drop are kept)
        offsets = [int(r[1][6:-1]) if r[1] else 0 for r in host.requests]
        assert len(offsets) == 3 and 0 == offsets[0] < offsets[1] < offsets[2] <= 150_000
        assert not list(tmp_path.glob("*.part"))
        # a verified copy is not fetched again
        fetch(RemoteFile("f.bin", host.url("/f.bin"), sha256=_sha(BLOB)), tmp_path, **QUICK)
        assert len(host.requests) == 3


def test_a_partial_file_left_by_a_killed_run_is_continued(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(BLOB[:123_456])
    with ReleaseHost({"/f.bin": BLOB}) as host:
        fetch(RemoteFile("f.bin", host.url("/f.bin"), sha256=_sha(BLOB)), tmp_path, **QUICK)
        assert host.requests == [("/f.bin", "bytes=123456-")]
    assert (tmp_path / "f.bin").read_bytes() == BLOB


def test_a_server_without_ranges_restarts_the_file(tmp_path: Path) -> None:
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes from another version")
    with ReleaseHost({"/f.bin": BLOB}, ranges=False) as host:
        fetch(RemoteFile("f.bin", host.url("/f.bin"), sha256=_sha(BLOB)), tmp_path, **QUICK)
    assert (tmp_path / "f.bin").read_bytes() == BLOB


def test_git_blob_ids_are_checked(tmp_path: Path) -> None:
    git = require("git")
    blob_id = (
        subprocess.run([git, "hash-object", "--stdin"], input=BLOB, capture_output=True, check=True)
        .stdout.decode()
        .strip()
    )
    with ReleaseHost({"/f.bin": BLOB}) as host:
        fetch(RemoteFile("f.bin", host.url("/f.bin"), git_sha1=blob_id), tmp_path, **QUICK)
        with pytest.raises(FetchError, match="git blob id differs"):
            fetch(RemoteFile("g.bin", host.url("/f.bin"), git_sha1="0" * 40), tmp_path, **QUICK)
    assert not (tmp_path / "g.bin").exists() and not (tmp_path / "g.bin.part").exists()


def test_unpublished_checksums_are_recorded_then_enforced(tmp_path: Path) -> None:
    with ReleaseHost({"/a.tar.gz": BLOB}) as host:
        remote = RemoteFile("a.tar.gz", host.url("/a.tar.gz"))
        fetch(remote, tmp_path, **QUICK)
        assert json.loads((tmp_path / CHECKSUMS_FILE).read_text()) == {"a.tar.gz": _sha(BLOB)}
        (tmp_path / "a.tar.gz").unlink()
        host.files["/a.tar.gz"] = BLOB[::-1]  # the publisher's file changed
        with pytest.raises(FetchError, match="recorded at first download"):
            fetch(remote, tmp_path, **QUICK)


def test_http_errors_are_one_line_errors(tmp_path: Path) -> None:
    with ReleaseHost({}) as host, pytest.raises(FetchError, match="HTTP 404"):
        fetch(RemoteFile("x", host.url("/x")), tmp_path, **QUICK)


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.slow
def test_download_tgif_fetches_imports_and_rehydrates(
    cache: Path, tmp_path: Path, monkeypatch
) -> None:
    """The whole path of `mrw download tgif` against a loopback stand-in for the publishers."""
    test_urls = (DATA / "test.txt").read_text().split()[:3]
    val_urls = (DATA / "val.txt").read_text().split()[:2]
    with ReleaseHost({}) as host:
        media = {}
        # the TSV points at media on the loopback host (one GIF of each split is dead)
        local = {u: host.url(f"/media/{u.rsplit('/', 1)[1]}") for u in test_urls + val_urls}
        for i, url in enumerate(test_urls[:2] + val_urls[:1]):
            media[local[url]] = gif_bytes(scene(i, frames=6))
        tsv = "".join(
            f"{local[u]}\ta clip {i} sentence {k} .\n"
            for i, u in enumerate(test_urls)
            for k in range(3)
        )
        tsv += "".join(f"{local[u]}\ta val clip {i} .\n" for i, u in enumerate(val_urls))
        split_files = {
            "splits/test.txt": "".join(local[u] + "\n" for u in test_urls),
            "splits/val.txt": "".join(local[u] + "\n" for u in val_urls),
            "splits/train.txt": "",
        }
        files = {"tgif-v1.0.tsv": tsv, **split_files}
        for name, text in files.items():
            host.files[f"/data/{name}"] = text.encode()
        for url, data in media.items():
            host.files[url[len(host.base_url) :]] = data
        real = originals.ORIGINAL_RELEASES["tgif"]
        # same release layout, checksums of the stand-in files
        monkeypatch.setitem(
            originals.ORIGINAL_RELEASES,
            "tgif",
            dataclasses.replace(
                real,
                files=tuple(
                    RemoteFile(f.name, f.url, sha256=_sha(files[f.name].encode()))
                    for f in real.files
                ),
            ),
        )
        out = tmp_path / "tgif"
        command = [
            "download",
            "tgif",
            "--mirror",
            host.base_url + "/data",
            "--allow-private",
            "--workers",
            "2",
            "--out",
            str(out),
        ]
        assert main(command) == 0
        before = len(host.requests)
        assert main(command) == 0  # a re-run fetches neither verified files nor stored media again
        again = sorted(path for path, _ in host.requests[before:])
        dead = sorted(local[u][len(host.base_url) :] for u in (test_urls[2], val_urls[1]))
        assert again == dead  # only the failed URLs are tried again

    import datasets

    full = datasets.load_dataset(str(out)).cast_column("video", datasets.Video(decode=False))
    assert {s: len(full[s]) for s in full} == {"validation": 1, "test": 6}
    assert all(row["video"]["bytes"][:6] == b"GIF89a" for row in full["test"])
    report = json.loads((out / "rehydrate.json").read_text())
    assert report == {"videos": 5, "by_status": {"http_error": 2, "ok": 3}}
    assert (out / "qrels" / "test" / "v2t.qrels").read_text().count("\n") == 6
    assert (cache / "releases" / "tgif" / "urls" / "README.md").is_file()  # the URL-only copy


def _mrw_archive(media_base: str) -> bytes:
    items = [
        {
            "id": f"m{i}",
            "sentence": f"MRW my friend does thing {i}",
            "images": {"mp4_url": f"{media_base}/m{i}.mp4"},
        }
        for i in range(4)
    ]
    members = {
        "mrw/mrw-v1.0.json": json.dumps(items).encode(),
        "mrw/split/train.tsv": b"m0\nm1\n",
        "mrw/split/valid.tsv": b"m2\n",
        "mrw/split/test.tsv": b"m3\n",
    }
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_download_mrw_from_the_pvse_archive(cache: Path, tmp_path: Path) -> None:
    with ReleaseHost({}) as host:
        archive = host.files["/pvse/mrw-v1.0.tar.gz"] = _mrw_archive(host.url("/giphy"))
        for i in range(3):  # m3 is dead
            host.files[f"/giphy/m{i}.mp4"] = mp4_bytes(scene(10 + i, frames=6), fps=8)
        out = tmp_path / "mrw"
        assert (
            main(
                [
                    "download",
                    "mrw",
                    "--mirror",
                    host.url("/pvse"),
                    "--allow-private",
                    "--sha256",
                    _sha(archive),
                    "--out",
                    str(out),
                ]
            )
            == 0
        )
    import datasets

    full = datasets.load_dataset(str(out)).cast_column("video", datasets.Video(decode=False))
    assert {s: len(full[s]) for s in full} == {"train": 2, "validation": 1}
    row = full["train"][0]
    assert row["num_frames"] == 6 and row["sentence"] == "MRW my friend does thing 0"
    assert row["sha256"] == hashlib.sha256(row["video"]["bytes"]).hexdigest()


def test_an_archive_escaping_its_folder_is_refused(cache: Path, tmp_path: Path, capsys) -> None:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        info = tarfile.TarInfo("../../evil.json")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"[]"))
    pin = ["--sha256", _sha(out.getvalue())]
    with ReleaseHost({"/pvse/mrw-v1.0.tar.gz": out.getvalue()}) as host:
        mirror = ["--mirror", host.url("/pvse")]
        assert main(["download", "mrw", *mirror, *pin, "--out", str(tmp_path / "o")]) == 2
    assert "cannot unpack" in capsys.readouterr().err
    assert not (cache / "evil.json").exists() and not (tmp_path / "evil.json").exists()


def test_hub_download_rehydrates_a_url_only_snapshot(
    cache: Path, tmp_path: Path, monkeypatch
) -> None:
    """A URL-only dataset as published on the Hub (the snapshot is stood in by a folder)."""
    from mrw.dataset import VideoRow, build_dataset

    with ReleaseHost({}) as host:
        clips = {f"/m/v{i}.gif": gif_bytes(scene(20 + i, frames=6)) for i in range(2)}
        host.files.update(clips)
        host.files["/m/v1.gif"] = gif_bytes(scene(99, frames=6))  # changed since publication
        rows = [
            VideoRow(
                id=f"s{i}",
                video_id=f"v{i}",
                sentence=f"MRW thing {i}",
                media_url=host.url(f"/m/v{i}.gif"),
                sha256=_sha(clips[f"/m/v{i}.gif"]),
            )
            for i in range(2)
        ]
        snapshot = build_dataset({"test": rows}, tmp_path / "snap", configs=("urls",))
        monkeypatch.setattr("huggingface_hub.snapshot_download", lambda *a, **k: str(snapshot))
        out = hub.download_hub("org/mrw-urls", tmp_path / "out", allow_private=True, progress=False)
    report = json.loads((out / "rehydrate.json").read_text())
    assert report["by_status"] == {"checksum_mismatch": 1, "ok": 1}


def test_hub_download_offline_is_a_one_line_error(cache: Path, capsys) -> None:
    assert main(["download", "nobody/not-cached-anywhere"]) == 2
    assert "not in the local HF cache" in capsys.readouterr().err


def test_publish_dry_run_lists_the_upload_and_real_runs_need_a_token(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    from mrw.dataset import VideoRow, build_dataset

    rows = [
        VideoRow(id="s0", video_id="v0", sentence="MRW x y", media_url="https://x.example/v0.gif")
    ]
    folder = build_dataset({"test": rows}, tmp_path / "ds", configs=("urls",))
    assert main(["publish", str(folder), "--repo", "org/mrw", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert (
        "README.md" in out
        and "urls/test-00000-of-00001.parquet" in out
        and "would upload 2 files" in out
    )
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert main(["publish", str(folder), "--repo", "org/mrw"]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    assert main(["publish", str(tmp_path), "--repo", "org/mrw", "--dry-run"]) == 2
    assert "not a dataset folder" in capsys.readouterr().err
