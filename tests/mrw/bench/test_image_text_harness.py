"""Image-text sets through the harness: catalogue records, the toy image set, the 7 x 7 grid
feature path, image encoders, reproduce table2, how-to-get messages, and learning on toy-image."""

from __future__ import annotations

import json
import math
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from mrw.bench.cli import main as bench_main
from mrw.catalog import get_dataset
from mrw.cli import main as mrw_main
from mrw.dataset import DatasetNotFoundError, load_dataset, read_table
from mrw.toy.image import (
    CAPTIONS_PER_IMAGE,
    REGIONS,
    build_toy_image,
    caption,
    render_image,
    sample_image_scene,
)
from mrw.toy.video import COLOURS


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_catalogue_records() -> None:
    for name in ("toy-image", "coco", "flickr30k"):
        record = get_dataset(name)
        assert record.modality == "image" and record.sentences_per_video == 5
        assert record.training.num_frames == 1
    coco = get_dataset("coco")
    assert coco.test_folds == (5, 1000)
    assert (coco.paper.table, coco.paper.k, coco.paper.training.batch_size) == ("table2", 2, 256)
    assert get_dataset("flickr30k").paper is None and get_dataset("flickr30k").test_folds is None


@pytest.mark.parametrize(
    ("name", "hint"),
    [("coco", "mrw import coco --karpathy"), ("flickr30k", "mrw import flickr30k")],
)
def test_absent_dataset_says_how_to_get_it(cache, capsys, name: str, hint: str) -> None:
    with pytest.raises(DatasetNotFoundError, match=hint) as error:
        load_dataset(name)
    assert "precomp" in str(error.value)
    assert bench_main(["features", "--dataset", name]) == 2
    err = capsys.readouterr().err
    assert hint in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def _pixels(image: np.ndarray, colour: str) -> np.ndarray:
    return np.abs(image.astype(int) - COLOURS[colour]).sum(-1) < 30


def test_toy_image_scenes_show_what_their_captions_name() -> None:
    for seed in range(30):
        rng = random.Random(seed)
        scene = sample_image_scene(rng)
        assert 2 <= len(scene.objects) <= 4
        assert len({o.colour for o in scene.objects}) == len(scene.objects)
        assert len({o.cell for o in scene.objects}) == len(scene.objects)
        text, named = caption(scene, rng)
        for index in named:
            obj = scene.objects[index]
            assert f"{obj.colour} {obj.shape}" in text
        by_colour = {o.colour: o for o in scene.objects}
        for index, obj in enumerate(scene.objects):
            if index not in named:
                assert obj.colour not in text
        for phrase in re.split(r", | and ", text):  # "a red circle at the top left"
            match = re.search(r"a (\w+) (\w+)(?: at the (.+))?$", phrase)
            obj = by_colour[match.group(1)]
            assert match.group(2) == obj.shape
            assert match.group(3) in (None, REGIONS[obj.cell])
        import io

        from PIL import Image

        image = np.asarray(Image.open(io.BytesIO(render_image(scene, 64))).convert("RGB"))
        for obj in scene.objects:
            ys, xs = np.nonzero(_pixels(image, obj.colour))
            assert len(xs) > 20  # drawn, at its place
            assert abs(xs.mean() / 64 - obj.x) < 0.05 and abs(ys.mean() / 64 - obj.y) < 0.05


def test_mrw_toy_kind_image_is_deterministic(tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        assert mrw_main(["toy", "--kind", "image", "--num-images", "15", "--out", str(out)]) == 0
    assert "5 captions each" in capsys.readouterr().out
    files = sorted(p.relative_to(a) for p in a.rglob("*.parquet"))
    assert files and all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    test = read_table(a, "test", ("id", "video_id", "sentence"))
    assert test.num_rows == 2 * CAPTIONS_PER_IMAGE
    assert test.column("id").to_pylist()[:2] == ["toyi-test-00000#0", "toyi-test-00000#1"]
    v2t = (a / "qrels" / "test" / "v2t.qrels").read_text().splitlines()
    assert v2t[:2] == [
        "toyi-test-00000 0 toyi-test-00000#0 1",
        "toyi-test-00000 0 toyi-test-00000#1 1",
    ]
    assert len(v2t) == 2 * CAPTIONS_PER_IMAGE
    rows = load_dataset(a, split="test", num_frames=1, size=64)
    assert rows[0]["frames"].shape == (1, 3, 64, 64) and rows[0]["num_frames"] == 1


@pytest.mark.slow
def test_resnet152_grid_features_on_random_weights(tmp_path: Path, cache) -> None:
    """The 7 x 7 x 2048 path: 49 fp16 local features per image whose mean is the pooled
    feature of the same (random-weight) ResNet-152."""
    from mrw.bench.features import FeatureSpec, extract_features

    folder = build_toy_image(tmp_path / "images", num_images=15)
    spec = FeatureSpec(str(folder), "test", "resnet152", "none", 8.0, 1, 224, grid=True)
    grid, _ = extract_features(spec, progress=False)
    assert grid.features.shape == (2, 49, 2048) and grid.features.dtype == torch.float16
    assert grid.lengths.tolist() == [49, 49]
    assert torch.isfinite(grid.features).all() and grid.features.float().std() > 0
    pooled, _ = extract_features(
        FeatureSpec(str(folder), "test", "resnet152", "none", 8.0, 1, 224), progress=False
    )
    assert pooled.features.shape == (2, 1, 2048)
    mean = grid.features.float().mean(1)
    assert torch.allclose(mean, pooled.features[:, 0].float(), rtol=2e-2, atol=2e-3)
    assert spec.cache_path().name.endswith("-grid-v2.pt")


def test_image_encoders_pool_the_grid_order_free() -> None:
    """On image sets VSE++ (like PVSE's global feature) is a linear layer on the average of
    the cells, so it ignores their order; on video the biGRU does not."""
    from mrw.methods.base import MethodContext
    from mrw.methods.encoders import ImageEncoder, VideoEncoder
    from mrw.methods.registry import create_method

    torch.manual_seed(0)
    cells, lengths = torch.randn(3, 49, 16), torch.full((3,), 49)
    shuffled = cells[:, torch.randperm(49)]
    for visual, encoder_class in (("image", ImageEncoder), ("video", VideoEncoder)):
        context = MethodContext(16, 30, 100, visual=visual)
        vsepp = create_method("vsepp", context, {"embed_dim": 8}).eval()
        pvse = create_method("pvse", context, {"embed_dim": 8, "hidden_dim": 8, "k": 2}).eval()
        assert isinstance(vsepp.video_encoder, encoder_class)
        assert isinstance(pvse.visual_encoder, encoder_class)
        with torch.no_grad():
            same = torch.allclose(
                vsepp.encode_video(cells, lengths), vsepp.encode_video(shuffled, lengths), atol=1e-5
            )
        assert same == (visual == "image")


def _chance_rsum(images: int, captions_per_image: int) -> float:
    """Expected rsum of a random ranking: t2i ranks the images, i2t finds any of 5 captions."""
    captions = images * captions_per_image
    t2i = sum(100 * min(k, images) / images for k in (1, 5, 10))
    i2t = sum(
        100 * (1 - math.comb(captions - captions_per_image, k) / math.comb(captions, k))
        for k in (1, 5, 10)
    )
    return t2i + i2t


@pytest.mark.slow
def test_pvse_and_vsepp_learn_toy_image_above_chance(tmp_path: Path, cache, capsys) -> None:
    runs = tmp_path / "runs"
    args = ["run", "pvse", "vsepp", "--dataset", "toy-image", "--epochs", "8"]
    args += ["--embed-dim", "128", "--hidden-dim", "128", "--set", "max_violation=false"]
    assert bench_main([*args, "--runs-dir", str(runs)]) == 0
    chance = _chance_rsum(images=60, captions_per_image=5)
    for method in ("pvse", "vsepp"):
        (record_path,) = (runs / "toy-image" / method).glob("*/metrics.json")
        record = json.loads(record_path.read_text())
        config = record["config"]
        assert config["visual"] == "image" and config["features"]["grid"] is True
        assert (
            config["features"]["backbone"] == "histogram" and config["options"]["num_frames"] == 1
        )
        assert record["metrics"]["v2t"]["queries"] == 60  # images
        assert record["metrics"]["t2v"]["queries"] == 300  # captions
        assert record["metrics"]["rsum"] > 1.5 * chance, (method, record["metrics"]["rsum"], chance)
        assert record.get("folds") is None  # only COCO has the 1K protocol


def test_reproduce_table2_dry_run_prints_the_plan(tmp_path: Path, capsys, monkeypatch) -> None:
    from mrw.bench import runner as runner_module
    from tests.mrw.bench.test_sweep import FakeRunner

    fake = FakeRunner()
    monkeypatch.setattr(runner_module, "run_method", fake)
    assert bench_main(["reproduce", "table2", "--dry-run", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "table2 on coco: T=1, paper K=2, batch 256, 30 epochs" in out
    assert re.search(r"resnet152 \(IMAGENET1K_V\d\) at 224px \(grid cells as local features\)", out)
    assert re.search(r"pvse K=2 +pvse +lr 0.0002 +batch 256 ", out)
    assert re.search(r"vsepp +vsepp +lr 0.0002 +batch 128 ", out)  # VSE++ at its paper's batch
    # the departures are COCO's own: PVSE keeps the hardest negative, as the reference's command
    assert "hardest negative, as the reference's COCO command" in out
    assert "one sentence per test video" not in out  # five captions per image are all scored
    assert "7 runs; rough GPU time" in out and "total: about" in out
    assert fake.calls == [] and not any(tmp_path.iterdir())


def test_reproduce_table2_runs_each_baseline_at_its_own_batch(tmp_path: Path, monkeypatch) -> None:
    from mrw.bench import runner as runner_module
    from mrw.bench.options import RunOptions
    from mrw.bench.reproduce import execute, make_plan, paper_options
    from tests.mrw.bench.test_sweep import FakeRunner

    monkeypatch.setattr(runner_module, "run_method", FakeRunner())
    coco = get_dataset("coco")
    options = paper_options(coco, RunOptions(runs_dir=str(tmp_path / "runs")))
    assert (options.num_frames, options.grid, options.image_size) == (1, True, 224)
    assert not options.one_sentence_per_video  # every caption of a test image is a query
    (table,) = execute(
        make_plan("table2", coco), options, [0], tmp_path / "out", log=lambda _: None
    )
    assert table.name == "table2-coco.md" and "pvse" in table.read_text()
    batches = {
        json.loads(p.read_text())["method"]: json.loads(p.read_text())["options"]["batch_size"]
        for p in (tmp_path / "runs").rglob("config.json")
    }
    assert batches == {
        "devise": 256,
        "vsepp": 128,
        "order": 128,
        "corr_ae": 256,
        "dual_path": 256,
        "pvse": 256,
    }


def test_finetuning_a_grid_cnn_gives_cells_as_local_features() -> None:
    """Fine-tuning with --grid: the trainable CNN's map cells feed the method, and gradients
    reach the CNN."""
    from mrw.bench.backbones import FrameEncoder, build_backbone
    from mrw.bench.finetune import FrameMethod
    from mrw.methods.base import MethodContext
    from mrw.methods.registry import create_method

    cnn, _ = build_backbone("resnet18", "none", grid=True)
    encoder = FrameEncoder(cnn, 64, grid=True)  # ResNet-18 at 64 px: a 2 x 2 x 512 map
    inner = create_method("vsepp", MethodContext(512, 30, 10, visual="image"), {"embed_dim": 8})
    method = FrameMethod(inner, encoder)
    frames = torch.randint(0, 255, (2, 1, 3, 64, 64), dtype=torch.uint8)
    features, lengths = method.features(frames, torch.tensor([1, 1]))
    assert features.shape == (2, 4, 512) and lengths.tolist() == [4, 4]
    method.encode_video(frames, torch.tensor([1, 1])).sum().backward()
    assert cnn[0].weight.grad is not None and cnn[0].weight.grad.abs().sum() > 0


def test_precomp_features_train_and_report_folds_end_to_end(tmp_path: Path, cache) -> None:
    """Imported features train without images; a dataset with test folds gets them in its run
    record and Table 2's layout in `compare` (here 2 folds of 3 images stand in for 5 x 1,000)."""
    from mrw.bench.compare import compare_runs
    from mrw.bench.precomp import import_precomp
    from mrw.catalog import DatasetRecord, TrainingDefaults, register_dataset, unregister_dataset

    rng = np.random.default_rng(0)
    folder = tmp_path / "precomp"
    folder.mkdir()
    for stem, images in (("train", 40), ("dev", 6), ("testall", 6)):
        # features that carry the caption: image i's captions name colour i % 4
        labels = np.arange(images) % 4
        array = rng.normal(size=(images, 3, 8)).astype(np.float32)
        array[:, :, labels] += 3.0
        np.save(folder / f"{stem}_ims.npy", array)
        names = ("red", "green", "blue", "white")
        lines = [f"a {names[i % 4]} thing {k}" for i in range(images) for k in range(5)]
        (folder / f"{stem}_caps.txt").write_text("\n".join(lines) + "\n")
    record = DatasetRecord(
        name="tiny-coco",
        version="1",
        description="test fixture",
        modality="image",
        how_to_get="mrw import precomp",
        sentences_per_video=5,
        training=TrainingDefaults(num_frames=1, epochs=2, batch_size=20),
        test_folds=(2, 3),
    )
    register_dataset(record)
    try:
        import_precomp(folder, "tiny-coco", progress=False)
        runs = tmp_path / "runs"
        args = ["run", "vsepp", "--dataset", "tiny-coco", "--backbone", "precomp"]
        assert bench_main([*args, "--embed-dim", "16", "--runs-dir", str(runs)]) == 0
        (path,) = runs.rglob("metrics.json")
        result = json.loads(path.read_text())
        assert result["config"]["visual"] == "image"
        assert result["config"]["features"]["backbone"] == "precomp"
        folds = result["folds"]
        assert (folds["folds"], folds["fold_size"], len(folds["per_fold"])) == (2, 3, 2)
        assert folds["metrics"]["v2t"]["queries"] == 3 and folds["metrics"]["t2v"]["queries"] == 15
        assert folds["metrics"]["rsum"] == pytest.approx(
            np.mean([f["rsum"] for f in folds["per_fold"]])
        )
        from leaderboard.metrics import Metrics
        from mrw.bench.compare import chance_rsum

        # chance counts the five relevant captions of an image query
        metrics = Metrics.from_json(result["metrics"])
        assert chance_rsum(metrics) == pytest.approx(_chance_rsum(6, 5))
        table = compare_runs([runs]).to_markdown()
        assert "3 Image → Text R@1" in table and "6 Text → Image R@1" in table
    finally:
        unregister_dataset("tiny-coco")
