"""Hostile release archives: built in code, served from loopback, refused with nothing written."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.net.archive import ArchiveError, safe_extract
from mrw.testing.release_host import ReleaseHost


def _tar(members: list[tarfile.TarInfo | tuple[str, bytes]], mode: str = "w:gz") -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode=mode) as tar:
        for member in members:
            if isinstance(member, tuple):
                name, data = member
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(member)
    return out.getvalue()


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def _special(name: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = 1, 3
    return info


def _link_chain(depth: int = 20) -> list[tarfile.TarInfo | tuple[str, bytes]]:
    """The shape of CVE-2025-4517: nested folders and links whose expansion exceeds PATH_MAX."""
    members: list[tarfile.TarInfo | tuple[str, bytes]] = []
    step = "d" * 240
    path = ""
    for i in range(depth):
        members.append(_special(os.path.join(path, step), tarfile.DIRTYPE))
        members.append(_link(os.path.join(path, f"l{i}"), step))
        path = os.path.join(path, f"l{i}")
    members.append(_link("escape", os.path.join(path, "../" * depth * 2, "etc")))
    members.append(("escape/owned", b"x"))
    return members


HOSTILE = {
    "symlink": [_link("mrw/link", "/etc/passwd"), ("mrw/mrw-v1.0.json", b"[]")],
    "symlink_then_write": [_link("mrw", "../.."), ("mrw/evil.json", b"[]")],
    "hardlink": [("mrw/a", b"x"), _link("mrw/b", "mrw/a", tarfile.LNKTYPE)],
    "hardlink_outside": [_link("mrw/passwd", "/etc/passwd", tarfile.LNKTYPE)],
    "dotdot": [("../../evil.json", b"[]")],
    "dotdot_inside": [("mrw/../../evil.json", b"[]")],
    "absolute": [("/tmp/evil.json", b"[]")],
    "char_device": [_special("mrw/null", tarfile.CHRTYPE)],
    "block_device": [_special("mrw/disk", tarfile.BLKTYPE)],
    "fifo": [_special("mrw/pipe", tarfile.FIFOTYPE)],
    "long_link_chain": _link_chain(),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_and_nothing_is_left(tmp_path: Path, case: str) -> None:
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar(HOSTILE[case]))
    sandbox = tmp_path / "cache" / "files"
    sandbox.mkdir(parents=True)
    with pytest.raises(ArchiveError):
        safe_extract(archive, sandbox / "out")
    assert list(sandbox.iterdir()) == []  # no target, no temporary folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tar.gz", "cache"]


def test_a_size_bomb_is_stopped_at_the_cap(tmp_path: Path) -> None:
    archive = tmp_path / "bomb.tar.gz"
    archive.write_bytes(_tar([("mrw/zeros", bytes(8 << 20))]))
    assert archive.stat().st_size < 64 << 10  # 8 MB of zeros compress to a few KB
    with pytest.raises(ArchiveError, match="more than 1,048,576 bytes"):
        safe_extract(archive, tmp_path / "out", max_bytes=1 << 20)
    assert not (tmp_path / "out").exists()


def test_too_many_members_and_garbage_are_refused(tmp_path: Path) -> None:
    many = tmp_path / "many.tar"
    many.write_bytes(_tar([(f"f{i}", b"") for i in range(20)], mode="w"))
    with pytest.raises(ArchiveError, match="more than 10 members"):
        safe_extract(many, tmp_path / "out", max_members=10)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + os.urandom(4096))
    with pytest.raises(ArchiveError, match="corrupt"):
        safe_extract(garbage, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_plain_archive_unpacks_with_fixed_modes_and_stale_temp_folders_go(
    tmp_path: Path,
) -> None:
    stale = tmp_path / ".unpacking-out.12345"
    stale.mkdir()
    info = tarfile.TarInfo("mrw/run.sh")
    info.size, info.mode = 2, 0o6777  # setuid + world-writable is not carried over
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        tar.addfile(info, io.BytesIO(b"#!"))
        data = tarfile.TarInfo("mrw/split/test.tsv")
        data.size = 3
        tar.addfile(data, io.BytesIO(b"m3\n"))
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(out.getvalue())
    target = safe_extract(archive, tmp_path / "out")
    assert (target / "mrw" / "split" / "test.tsv").read_bytes() == b"m3\n"
    assert (target / "mrw" / "run.sh").stat().st_mode & 0o7777 == 0o644
    assert not stale.exists()


def _header_bomb() -> bytes:
    """A gzip of a few KB whose one member claims 4 GiB (only the header is there)."""
    info = tarfile.TarInfo("mrw/mrw-v1.0.json")
    info.size = 4 << 30
    return gzip.compress(info.tobuf(format=tarfile.GNU_FORMAT) + bytes(4096))


SERVED = {**{name: _tar(members) for name, members in HOSTILE.items()}, "size_bomb": b""}


@pytest.mark.parametrize("case", sorted(SERVED))
def test_download_mrw_refuses_a_hostile_mirror_with_a_pinned_hash(
    tmp_path: Path, monkeypatch, capsys, case: str
) -> None:
    """Even an archive whose hash the user pinned is unpacked only if every member is plain."""
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    payload = SERVED[case] or _header_bomb()
    with ReleaseHost({"/pvse/mrw-v1.0.tar.gz": payload}) as host:
        code = main(
            [
                "download",
                "mrw",
                "--mirror",
                host.url("/pvse"),
                "--sha256",
                hashlib.sha256(payload).hexdigest(),
                "--out",
                str(tmp_path / "o"),
            ]
        )
    assert code == 2
    err = capsys.readouterr().err
    assert "error: cannot unpack" in err and "Traceback" not in err
    files = tmp_path / "cache" / "releases" / "mrw" / "files"
    assert sorted(p.name for p in files.iterdir()) == ["mrw-v1.0.tar.gz"]  # nothing unpacked
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]  # nothing written outside


def test_download_mrw_needs_a_pinned_hash_and_checks_it(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    payload = _tar([("mrw/mrw-v1.0.json", b"[]")])
    sha = hashlib.sha256(payload).hexdigest()
    with ReleaseHost({"/pvse/mrw-v1.0.tar.gz": payload}) as host:
        base = ["download", "mrw", "--mirror", host.url("/pvse"), "--out", str(tmp_path / "o")]
        assert main(base) == 2  # trust on first download is not enough
        err = capsys.readouterr().err
        assert "no pinned checksum" in err and sha in err
        assert not (tmp_path / "cache" / "releases" / "mrw" / "files" / "mrw-v1.0").exists()
        assert main([*base, "--sha256", "0" * 64]) == 2  # a different pin: refused, deleted
        assert "SHA-256 differs" in capsys.readouterr().err
        assert main([*base, "--sha256", "xyz"]) == 2
        assert "64 hex digits" in capsys.readouterr().err
