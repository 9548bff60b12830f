"""`mrw-bench embeddings`: a PVSE K=2 run and a one-embedding (VSE++) run on the synthetic
features, exported and read back with pyarrow and pandas; the vectors are the model's, their
dot products are the scores the run wrote, and bad input ends in one line and exit 2."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from mrw.bench.cli import main as bench_main
from mrw.bench.data import pad_tokens
from mrw.bench.heads import load_trained
from mrw.bench.record import RunRecord
from mrw.bench.runner import run_method
from mrw.testing.bench_synthetic import synthetic_options

D = 32


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("embeddings")
    mp = pytest.MonkeyPatch()
    mp.setenv("MRW_CACHE", str(root / "cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        options = synthetic_options(root / "cache", root / "runs", epochs=1)
        pvse = run_method("pvse", {"k": 2, "embed_dim": D, "hidden_dim": D}, options).run_dir
        vsepp = run_method("vsepp", {"embed_dim": D}, options).run_dir
        yield {"pvse": pvse, "vsepp": vsepp, "root": root}
    finally:
        torch.set_num_threads(threads)
        mp.undo()


def _export(run: Path, out: Path, capsys) -> str:
    assert bench_main(["embeddings", str(run), "--out", str(out)]) == 0
    return capsys.readouterr().out


def _run_file_scores(path: Path) -> dict[tuple[str, str], float]:
    """(query, document) -> score, as the run file holds them."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        rows = [line.split() for line in handle]
    return {(q, doc): float(score) for q, _, doc, _, score, _ in rows}


@pytest.mark.parametrize(("name", "k"), [("pvse", 2), ("vsepp", 1)])
def test_the_file_holds_the_models_embeddings_and_reproduces_the_run(
    runs: dict[str, Path], capsys, name: str, k: int
) -> None:
    run = runs[name]
    out = runs["root"] / f"{name}.parquet"
    printed = _export(run, out, capsys)
    table = pq.read_table(out)
    assert table.schema.field("embedding").type == pa.list_(pa.float32(), D)
    assert table.schema.field("head").type == pa.int16()
    meta = {key.decode(): value.decode() for key, value in table.schema.metadata.items()}
    record = RunRecord.from_disk(run)
    assert meta["mrw.run_id"] == run.name and meta["mrw.method"] == name
    assert meta["mrw.protocol_card_hash"] == record.protocol_card.card_hash
    assert json.loads(meta["mrw.heads"]) == {"video": k, "sentence": k}
    assert meta["mrw.unit_norm"] == "true" and meta["mrw.similarity"].startswith("max over")
    assert meta["mrw.split"] == "test" and int(meta["mrw.dim"]) == D

    # Recompute the embeddings through the method's own encode functions.
    model, data, _ = load_trained(run, "test")
    split = data.split
    with torch.no_grad():
        video = model.encode_video(split.features.float(), split.lengths)
        text = model.encode_text(*pad_tokens(data.tokens))
    frame = table.to_pandas()
    assert len(frame) == (len(split.video_ids) + len(split.pair_ids)) * k
    videos = frame[frame.kind == "video"]
    sentences = frame[frame.kind == "sentence"]
    assert list(videos.id[videos["head"] == 0]) == split.video_ids
    assert list(sentences.id[sentences["head"] == 0]) == split.pair_ids
    assert sorted(set(frame["head"])) == list(range(k))
    file_video = np.stack(videos.embedding.to_numpy()).reshape(-1, k, D)
    file_text = np.stack(sentences.embedding.to_numpy()).reshape(-1, k, D)
    np.testing.assert_allclose(file_video, video.numpy(), atol=1e-5)
    np.testing.assert_allclose(file_text, text.numpy(), atol=1e-5)

    # Max over the K x K dot products = the scores the run wrote (its t2v run file).
    scores = _run_file_scores(run / "t2v.run.gz")
    vid = {v: i for i, v in enumerate(split.video_ids)}
    checked = 0
    for (sentence, video_id), score in list(scores.items())[:: max(1, len(scores) // 12)]:
        j = split.pair_ids.index(sentence)
        best = (file_video[vid[video_id]] @ file_text[j].T).max()
        assert best == pytest.approx(score, abs=1e-5)
        checked += 1
    assert checked >= 10
    expected = 4 * (len(split.video_ids) + len(split.pair_ids)) * k * D
    assert f"{expected / 1e6:.2f} MB before zstd" in printed
    assert f"wrote {out}" in printed


def test_an_earlier_export_is_replaced_and_nothing_else_is(runs, capsys) -> None:
    root = runs["root"]
    out = root / "again.parquet"
    _export(runs["vsepp"], out, capsys)
    _export(runs["vsepp"], out, capsys)  # an earlier export: replaced
    user = root / "notes.parquet"
    user.write_text("my notes", encoding="utf-8")
    cases = [
        ([str(runs["vsepp"]), "--out", str(user)], "notes.parquet"),  # not a Parquet file
        ([str(runs["vsepp"]), "--out", str(root)], "not a regular file"),
        ([str(root / "missing"), "--out", str(root / "x.parquet")], "missing"),
        ([str(user), "--out", str(root / "x.parquet")], "notes.parquet"),
    ]
    for argv, said in cases:
        assert bench_main(["embeddings", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and said in err[0], err
    assert user.read_text(encoding="utf-8") == "my notes"
    assert not (root / "x.parquet").exists()


def test_runs_it_cannot_encode_again_are_refused(runs, capsys) -> None:
    root = runs["root"]
    for method, said in (("clip4clip", "decoded frames"), ("clip-zeroshot", "zero-shot")):
        copy = root / f"as-{method}"
        shutil.copytree(runs["vsepp"], copy, dirs_exist_ok=True)
        record = json.loads((copy / "metrics.json").read_text(encoding="utf-8"))
        record["method"] = method
        (copy / "metrics.json").write_text(json.dumps(record), encoding="utf-8")
        assert bench_main(["embeddings", str(copy), "--out", str(root / "y.parquet")]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and said in err, err
    stale = root / "stale"
    shutil.copytree(runs["vsepp"], stale, dirs_exist_ok=True)
    ranks = json.loads((stale / "query_ranks.json").read_text(encoding="utf-8"))
    ranks["v2t"]["queries"] = ranks["v2t"]["queries"][::-1]
    (stale / "query_ranks.json").write_text(json.dumps(ranks), encoding="utf-8")
    assert bench_main(["embeddings", str(stale), "--out", str(root / "y.parquet")]) == 2
    assert "no longer hold the run's test items" in capsys.readouterr().err


def test_a_run_on_one_sentence_per_video_exports_the_sentences_it_scored(tmp_path, capsys):
    """Two sentences per test video; the run keeps one each (`--one-sentence-per-video`), and
    so does the export, or the rebuilt split would not be the run's."""
    from mrw.bench.features import save_features
    from mrw.testing.bench_synthetic import SIZES, make_split

    cache = tmp_path / "cache"
    mp = pytest.MonkeyPatch()
    mp.setenv("MRW_CACHE", str(cache))
    try:
        options = synthetic_options(cache, tmp_path / "runs", epochs=1)
        spec = options.feature_spec("test")
        test = make_split("test", SIZES["test"], seed=102, sentences_per_video=2)
        save_features(spec.cache_path(cache), test, spec)  # replaces the one-sentence split
        options = synthetic_options(cache, tmp_path / "runs", epochs=1, one_sentence_per_video=True)
        run = run_method("vsepp", {"embed_dim": D}, options).run_dir
        _export(run, tmp_path / "one.parquet", capsys)
    finally:
        mp.undo()
    frame = pq.read_table(tmp_path / "one.parquet").to_pandas()
    sentences = list(frame.id[frame.kind == "sentence"])
    assert len(sentences) == SIZES["test"] < len(test.pair_ids)
    assert sentences == json.loads((run / "query_ranks.json").read_text())["t2v"]["queries"]


def test_another_parquet_file_is_never_replaced(runs, capsys) -> None:
    root = runs["root"]
    other = root / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2, 3]}), other)
    before = other.read_bytes()
    assert bench_main(["embeddings", str(runs["vsepp"]), "--out", str(other)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "other.parquet" in err[0]
    assert other.read_bytes() == before


class _RunsCode:
    """A pickle that would create a file when unpickled without `weights_only`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("content", ["code", "empty", "random"])
def test_a_hostile_or_broken_checkpoint_is_refused_without_running_it(
    runs, capsys, content: str
) -> None:
    root = runs["root"]
    copy = root / f"hostile-{content}"
    shutil.copytree(runs["vsepp"], copy, dirs_exist_ok=True)
    marker = root / f"ran-{content}"
    checkpoint = copy / "checkpoint.pt"
    if content == "code":
        torch.save({"model": _RunsCode(marker), "best_model": None}, checkpoint)
    else:
        checkpoint.write_bytes(b"" if content == "empty" else np.random.bytes(4096))
    assert bench_main(["embeddings", str(copy), "--out", str(root / "z.parquet")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot rebuild the model" in err[0], err
    assert not marker.exists()
