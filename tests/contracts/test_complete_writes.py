"""Nothing half-written: whole folders swapped in, stale temp files removed, shards validated."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrw.cli import main
from mrw.core.atomic import OutputPathError, atomic_dir, atomic_write, remove_stale
from mrw.dataset import DatasetFormatError, VideoRow, build_dataset, load_dataset, read_table
from mrw.dataset.reader import check_folder


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _rows(n: int = 3) -> list[VideoRow]:
    return [
        VideoRow(id=f"p{i}", video_id=f"v{i}", sentence=f"s {i}", media_url=f"https://x/{i}")
        for i in range(n)
    ]


def _build(folder: Path, n: int = 3) -> Path:
    return build_dataset({"train": _rows(n)}, folder, configs=("urls",))


def test_stale_temp_files_of_dead_writers_are_removed_live_ones_kept(tmp_path: Path) -> None:
    dead, alive = _dead_pid(), os.getppid()
    for pid in (dead, alive):
        (tmp_path / f".index.html.{pid}-abc.tmp").write_text("half")
        (tmp_path / f".ds.{pid}-abc.tmp").mkdir()
    (tmp_path / ".index.html.legacy_x.tmp").write_text("half")  # an older writer's name
    (tmp_path / ".other.html.1-x.tmp").write_text("not ours")
    with atomic_write(tmp_path / "index.html", "w") as handle:
        handle.write("done")
    with atomic_dir(tmp_path / "ds") as folder:
        (folder / "x").write_text("1")
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(
        [f".ds.{alive}-abc.tmp", f".index.html.{alive}-abc.tmp", ".other.html.1-x.tmp"]
        + ["ds", "index.html"]
    )
    assert remove_stale(tmp_path / "index.html") == []


def test_a_build_killed_mid_write_leaves_no_result_and_the_next_run_cleans_up(
    tmp_path: Path,
) -> None:
    script = textwrap.dedent(
        f"""
        import os
        from mrw.dataset import VideoRow, build_dataset
        def rows():
            for i in range(100):
                if i == 50:
                    os._exit(9)  # as if killed -9 while writing
                yield VideoRow(id=f"p{{i}}", video_id="v", sentence="s", media_url="https://x")
        build_dataset({{"train": rows()}}, {str(tmp_path / "ds")!r}, configs=("urls",))
        """
    )
    assert subprocess.run([sys.executable, "-c", script], check=False).returncode == 9
    assert not (tmp_path / "ds").exists()
    (leftover,) = tmp_path.iterdir()
    assert leftover.name.startswith(".ds.")
    _build(tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_files_added_by_finish_are_inside_before_the_swap(tmp_path: Path) -> None:
    seen = []

    def finish(folder: Path) -> None:
        seen.append((folder.name, (folder / "README.md").exists()))
        (folder / "build.json").write_text("{}")
        raise RuntimeError("killed while writing the qrels")

    with pytest.raises(RuntimeError):
        build_dataset({"train": _rows()}, tmp_path / "ds", configs=("urls",), finish=finish)
    assert seen[0][0].startswith(".ds.") and seen[0][1] is False  # the card comes last
    assert list(tmp_path.iterdir()) == []


def test_a_folder_without_its_card_is_refused_with_a_message(tmp_path: Path, capsys) -> None:
    folder = _build(tmp_path / "ds")
    (folder / "README.md").unlink()
    with pytest.raises(DatasetFormatError, match="incomplete dataset folder"):
        load_dataset(folder, split="train", cache_dir=str(tmp_path / "hf"))
    assert main(["stats", str(folder)]) == 2
    assert "incomplete dataset folder" in capsys.readouterr().err


def test_a_swap_killed_between_its_renames_is_recovered(tmp_path: Path) -> None:
    first = _build(tmp_path / "ds", n=2)
    os.replace(first, tmp_path / ".ds.old")  # the old result moved aside, the new not yet in
    _build(tmp_path / "ds", n=4)
    assert read_table(tmp_path / "ds", "train").num_rows == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_outputs_never_replace_a_user_file_or_folder(tmp_path: Path, capsys) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("mine")
    documents = tmp_path / "documents"
    documents.mkdir()
    (documents / "thesis.tex").write_text("mine too")
    for out in (precious, documents):
        with pytest.raises(OutputPathError):
            _build(out)
        assert main(["toy", "--out", str(out), "--num-pairs", "30"]) == 2
        assert capsys.readouterr().err.startswith("error: ")
    assert precious.read_text() == "mine" and (documents / "thesis.tex").read_text() == "mine too"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["documents", "notes.txt"]
    _build(tmp_path / "ds")
    _build(tmp_path / "ds", n=5)  # an earlier dataset folder is replaced
    assert read_table(tmp_path / "ds", "train").num_rows == 5


# --- shards are validated when a folder is opened ----------------------------------------------


def _replace_shard(folder: Path, data: bytes | pa.Table) -> Path:
    shard = next((folder / "urls").glob("*.parquet"))
    if isinstance(data, bytes):
        shard.write_bytes(data)
    else:
        pq.write_table(data, shard, compression="zstd")
    return shard


def test_garbage_bytes_are_a_one_line_error(tmp_path: Path, capsys) -> None:
    folder = _build(tmp_path / "ds")
    shard = _replace_shard(folder, os.urandom(3000))
    assert main(["stats", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {shard}: not a parquet file\n"
    _replace_shard(folder, b"PAR1" + os.urandom(3000) + b"\xff\xff\xff\x7fPAR1")
    assert main(["stats", str(folder)]) == 2
    assert "footer" in capsys.readouterr().err


def test_an_oversized_value_is_refused_from_the_footer(tmp_path: Path) -> None:
    folder = _build(tmp_path / "ds")
    original = pq.read_table(next((folder / "urls").glob("*.parquet")))
    sentences = original.column("sentence").to_pylist()
    sentences[0] = "x" * (8 << 20)  # one 8 MiB sentence: compresses to a few KB
    column = original.schema.get_field_index("sentence")
    shard = _replace_shard(folder, original.set_column(column, "sentence", pa.array(sentences)))
    assert shard.stat().st_size < 50_000
    with pytest.raises(DatasetFormatError, match="column 'sentence' holds 8,388,6"):
        check_folder(folder)


def test_wrong_schema_and_wrong_counts_are_refused(tmp_path: Path) -> None:
    folder = _build(tmp_path / "ds")
    original = pq.read_table(next((folder / "urls").glob("*.parquet")))
    _replace_shard(folder, original.drop_columns(["sha256"]))
    with pytest.raises(DatasetFormatError, match="no column 'sha256'"):
        check_folder(folder)
    _replace_shard(folder, original.slice(0, 2))
    with pytest.raises(DatasetFormatError, match="urls/train has 2 rows, its card says 3"):
        check_folder(folder)
