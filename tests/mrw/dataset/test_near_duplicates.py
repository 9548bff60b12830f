"""Near-duplicate groups of a dataset folder and the multi-positive qrels `mrw qrels` exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leaderboard.qrels import read_qrels
from mrw.cli import main
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.near_duplicates import (
    NEAR_DUPLICATES_FILE,
    read_near_duplicates,
    write_near_duplicates,
)
from mrw.dataset.schema import DatasetFormatError

# Test split: v0, v1, v2 are one reaction posted three times, v4 has a look-alike (v5) in train.
GROUP_OF = {"v0": "v0", "v1": "v0", "v2": "v0", "v4": "v4", "v5": "v4", "v3": "v3"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    def row(i: int) -> VideoRow:
        return VideoRow(
            id=f"s{i}",
            video_id=f"v{i}",
            sentence=f"MRW thing {i}",
            media_url=f"https://x.example/v{i}.gif",
        )

    splits = {"train": [row(5), row(6)], "test": [row(i) for i in range(5)]}
    return build_dataset(splits, tmp_path / "ds", configs=("urls",))


def _pairs(path: Path) -> set[tuple[str, str]]:
    qrels = read_qrels(path)
    return {
        (qrels.query_ids[q], qrels.doc_ids[d])
        for q, d in zip(qrels.rel_query, qrels.rel_doc, strict=True)
    }


def test_groups_round_trip_and_singletons_are_left_out(tmp_path: Path) -> None:
    write_near_duplicates(tmp_path, GROUP_OF)
    data = json.loads((tmp_path / NEAR_DUPLICATES_FILE).read_text())
    assert data == {"format_version": 1, "groups": {"v0": ["v0", "v1", "v2"], "v4": ["v4", "v5"]}}
    assert read_near_duplicates(tmp_path) == {k: v for k, v in GROUP_OF.items() if k != "v3"}
    assert read_near_duplicates(tmp_path / "nowhere") is None


@pytest.mark.parametrize(
    "content, message",
    [
        ("{", "cannot read"),
        ('{"format_version": 2, "groups": {}}', "not a version-1"),
        ('{"format_version": 1, "groups": []}', "must map a group id"),
        ('{"format_version": 1, "groups": {"a": [1]}}', "must list video ids"),
        ('{"format_version": 1, "groups": {"a": ["x"], "b": ["x"]}}', "is in two groups"),
    ],
)
def test_a_malformed_groups_file_is_a_one_line_error(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / NEAR_DUPLICATES_FILE).write_text(content)
    with pytest.raises(DatasetFormatError, match=message):
        read_near_duplicates(tmp_path)


def test_mrw_qrels_multi_positive_beside_one_positive(folder: Path, tmp_path: Path) -> None:
    write_near_duplicates(folder, GROUP_OF)
    out = tmp_path / "truth"
    assert main(["qrels", str(folder), "--out", str(out), "--multi-positive"]) == 0
    one = out / "test"
    multi = one / "multi-positive"
    assert _pairs(one / "t2v.qrels") == {(f"s{i}", f"v{i}") for i in range(5)}  # unchanged
    own = {(f"s{i}", f"v{i}") for i in range(5)}
    look_alikes = {(f"s{a}", f"v{b}") for a in range(3) for b in range(3) if a != b}
    assert _pairs(multi / "t2v.qrels") == own | look_alikes  # v5 is in train: not judged
    assert _pairs(multi / "v2t.qrels") == {(v, s) for s, v in own | look_alikes}
    lines = [
        *(multi / "t2v.qrels").read_text().splitlines(),
        *(multi / "v2t.qrels").read_text().splitlines(),
    ]
    assert all(line.endswith(" 1") for line in lines)  # relevance grade 1 throughout


def test_mrw_qrels_default_stays_one_positive_and_needs_groups_for_multi(
    folder: Path, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "truth"
    assert main(["qrels", str(folder), "--out", str(out)]) == 0
    assert not (out / "test" / "multi-positive").exists()
    assert main(["qrels", str(folder), "--out", str(tmp_path / "t2"), "--multi-positive"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "records no near-duplicate groups" in err[0]
    assert not (tmp_path / "t2").exists()  # refused before anything was written


def test_mrw_qrels_never_writes_through_a_symlinked_folder(folder: Path, tmp_path: Path, capsys):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "t2v.qrels").write_text("keep 0 me 1\n")
    out = tmp_path / "truth"
    out.mkdir()
    (out / "test").symlink_to(elsewhere)
    assert main(["qrels", str(folder), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "a symlink" in err[0]
    assert (elsewhere / "t2v.qrels").read_text() == "keep 0 me 1\n"


def test_deeply_nested_groups_file_is_one_line(folder: Path, tmp_path: Path, capsys) -> None:
    (folder / NEAR_DUPLICATES_FILE).write_text("[" * 100_000)  # deeper than json can parse
    assert main(["qrels", str(folder), "--out", str(tmp_path / "q"), "--multi-positive"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read near-duplicate groups" in err[0]


def test_a_one_positive_export_removes_its_earlier_multi_positive_qrels(
    folder: Path, tmp_path: Path, capsys
) -> None:
    write_near_duplicates(folder, GROUP_OF)
    out = tmp_path / "truth"
    assert main(["qrels", str(folder), "--out", str(out), "--multi-positive"]) == 0
    assert (out / "test" / "multi-positive" / "t2v.qrels").is_file()
    assert main(["qrels", str(folder), "--out", str(out)]) == 0
    assert "removed the earlier multi-positive qrels" in capsys.readouterr().out
    assert not (out / "test" / "multi-positive").exists()


def test_groups_across_splits_or_of_unknown_videos_are_warned(
    folder: Path, tmp_path: Path, capsys
) -> None:
    from mrw.dataset.qrels import group_problems

    write_near_duplicates(folder, GROUP_OF)  # v4 (test) and v5 (train) are one group
    assert main(["qrels", str(folder), "--out", str(tmp_path / "q"), "--multi-positive"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"warning: {folder}: 1 near-duplicate group(s) span more than one split (look-alikes "
        "across splits), e.g. group 'v4' in test, train"
    ]
    problems = group_problems(folder, {**GROUP_OF, "nowhere": "v0", "v5": "v5"})
    assert problems == ["1 grouped video id(s) are not in the dataset (ignored), e.g. 'nowhere'"]
