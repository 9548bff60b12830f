"""`mrw build`: grouped deterministic splits, MRW sizes, the dataset folder and its qrels."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.curate.splits import MRW_SIZES, SplitError, SplitSizes, assign_splits, split_sizes
from mrw.dataset.near_duplicates import read_near_duplicates
from mrw.testing.reposts import FakePost, gif_bytes, make_collection, mp4_bytes, scene


def test_mrw_sizes_exact_larger_and_proportional() -> None:
    assert split_sizes(50_107) == MRW_SIZES
    assert split_sizes(60_000) == SplitSizes(54_000, 1_000, 5_000)  # train takes the rest
    small = split_sizes(5_011)
    assert small == SplitSizes(5_011 - 100 - 500, 100, 500)
    # A small collection keeps every split usable: at least one pair each (issue 13.6).
    assert split_sizes(10) == SplitSizes(8, 1, 1)
    assert split_sizes(18) == SplitSizes(15, 1, 2)
    assert split_sizes(3) == SplitSizes(1, 1, 1)
    with pytest.raises(SplitError, match="2 pairs are too few for the train, validation, test"):
        split_sizes(2)
    with pytest.raises(SplitError):
        SplitSizes.parse("1,2")


def _groups(n: int, seed: int = 0) -> dict[str, int]:
    rng = random.Random(seed)
    return {f"g{i:04d}": rng.choice([1, 1, 1, 2, 3]) for i in range(n)}


def test_grouped_assignment_meets_sizes_and_is_deterministic() -> None:
    groups = _groups(600)
    total = sum(groups.values())
    sizes = split_sizes(total, SplitSizes(total - 150, 50, 100))
    assignment = assign_splits(groups, sizes, seed=7)
    rows = {
        s: sum(n for g, n in groups.items() if assignment[g] == s)
        for s in ("train", "validation", "test")
    }
    assert rows == sizes.as_dict()
    # same groups in another order, same seed: the same assignment; another seed: another one
    reordered = dict(sorted(groups.items(), reverse=True))
    assert assign_splits(reordered, sizes, seed=7) == assignment
    assert assign_splits(groups, sizes, seed=8) != assignment
    with pytest.raises(SplitError):
        assign_splits(groups, SplitSizes(1, 1, 1), seed=0)


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """12 distinct clips; clip 0 is reposted twice (resized GIF, re-encoded MP4)."""
    root = tmp_path_factory.mktemp("coll")
    posts = [
        FakePost(
            f"p{i:02d}",
            f"MRW thing number {i} happens to me",
            1000 + i,
            gif_bytes(scene(100 + i, frames=8)),
        )
        for i in range(12)
    ]
    original = scene(100, frames=8)
    posts += [
        FakePost("r1", "MRW the same thing happens again", 2000, gif_bytes(original, (150, 110))),
        FakePost("r2", "MFW it keeps happening", 2001, mp4_bytes(original, (120, 90))),
    ]
    return make_collection(root, posts)


@pytest.mark.slow
def test_build_keeps_reposts_in_one_split_and_is_deterministic(
    collection: Path, tmp_path: Path
) -> None:
    import datasets

    clean_dir = tmp_path / "clean"
    assert (
        main(
            [
                "clean",
                str(collection),
                "--out",
                str(clean_dir),
                "--keep-near-duplicates",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    builds = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert (
            main(["build", str(clean_dir), "--out", str(out), "--seed", "3", "--sizes", "8,2,4"])
            == 0
        )
        builds.append(out)
    info = json.loads((builds[0] / "build.json").read_text())
    assert info["rows"] == {"train": 8, "validation": 2, "test": 4} and info["groups"] == 12
    assert info["clean"]["kept"] == 14 and info["clean"]["config"]["drop_near_duplicates"] is False
    assert "seed 3" in (builds[0] / "README.md").read_text()

    # byte-identical parquet files and qrels from the same input and seed
    files = sorted(p.relative_to(builds[0]) for p in builds[0].rglob("*") if p.is_file())
    assert any(str(f).startswith("data/") for f in files) and any(
        str(f).startswith("urls/") for f in files
    )
    for rel in files:
        if rel.name != "build.json":
            assert (builds[0] / rel).read_bytes() == (builds[1] / rel).read_bytes(), rel

    loaded = datasets.load_dataset(str(builds[0]))
    split_of = {
        row["id"]: split for split in loaded for row in loaded[split].select_columns(["id"])
    }
    assert len(split_of) == 14
    assert split_of["p00"] == split_of["r1"] == split_of["r2"]  # reposts never straddle splits
    urls = datasets.load_dataset(str(builds[0]), "urls", split="train")
    assert all(v is None for v in urls["video"]) and all(
        u.startswith("https://") for u in urls["media_url"]
    )

    import mrw

    with_frames = mrw.load_dataset(str(builds[0]), split="train", num_frames=4, size=32)
    assert tuple(with_frames[0]["frames"].shape) == (4, 3, 32, 32)  # the media decodes as built

    split = split_of["p00"]
    t2v = (builds[0] / "qrels" / split / "t2v.qrels").read_text().splitlines()
    assert "r1 0 r1 1" in t2v and len(t2v) == sum(1 for s in split_of.values() if s == split)

    # the planted near-duplicates are recorded, and only their split gets multi-positive qrels
    assert read_near_duplicates(builds[0]) == {"p00": "p00", "r1": "p00", "r2": "p00"}
    multi = builds[0] / "qrels" / split / "multi-positive"
    t2v_multi = (multi / "t2v.qrels").read_text().splitlines()
    assert {"r1 0 p00 1", "r1 0 r1 1", "r1 0 r2 1"} <= set(t2v_multi)
    assert len(t2v_multi) == len(t2v) + 3 * 2  # each of the three titles gains two clips
    assert not any(
        (folder / "multi-positive").exists()
        for folder in (builds[0] / "qrels").iterdir()
        if folder.name != split
    )


def test_build_of_a_missing_clean_folder_is_a_one_line_error(tmp_path: Path, capsys) -> None:
    assert main(["build", str(tmp_path), "--out", str(tmp_path / "ds")]) == 2
    assert "run `mrw clean` first" in capsys.readouterr().err


@pytest.mark.slow
def test_small_collection_builds_usable_splits_and_the_harness_names_a_missing_one(
    collection: Path, tmp_path: Path
) -> None:
    """14 cleaned pairs with the default sizes: every split gets pairs, with a note; a dataset
    without a validation split is named as such by `mrw-bench run`, not by `datasets`."""
    import os
    import subprocess
    import sys

    from mrw.dataset import VideoRow, build_dataset

    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "MRW_CACHE": str(tmp_path / "cache")}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(bin_dir / argv[0]), *argv[1:]],
            check=False, capture_output=True, text=True, env=env, timeout=600,
        )  # fmt: skip

    clean_dir, out = tmp_path / "clean", tmp_path / "ds"
    assert run("mrw", "clean", str(collection), "--out", str(clean_dir)).returncode == 0
    built = run("mrw", "build", str(clean_dir), "--out", str(out))
    assert built.returncode == 0, built.stderr
    assert "scaled in proportion, at least one pair per split" in built.stderr
    rows = json.loads((out / "build.json").read_text())["rows"]
    assert all(rows[split] >= 1 for split in ("train", "validation", "test")), rows

    # A folder without validation (e.g. built by hand): the harness says what is missing.
    pairs = [VideoRow.from_media(gif_bytes(scene(i, frames=4)), id=f"p{i}", video_id=f"v{i}",
                                 sentence=f"thing {i}") for i in range(4)]  # fmt: skip
    partial = build_dataset({"train": pairs[:2], "test": pairs[2:]}, tmp_path / "partial")
    done = run("mrw-bench", "run", "vsepp", "--dataset", str(partial), "--epochs", "1",
               "--backbone", "histogram", "--runs-dir", str(tmp_path / "runs"))  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), done.stderr
    assert "has no 'validation' split (it has train, test)" in line and "mrw build" in line
