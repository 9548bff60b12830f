"""torchrun on CPU (gloo, 2 processes): sharded feature extraction and frame decoding, DDP
training."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from mrw.bench.features import decode_frames, extract_features, frames_cache_paths, load_features
from tests.mrw.bench.test_features import spec, tiny_dataset

WORKER = textwrap.dedent(
    """
    import hashlib, json, os, sys
    from pathlib import Path
    import torch
    from mrw.testing.bench_synthetic import synthetic_options
    from mrw.bench import distributed
    from mrw.bench.features import FeatureSpec, decode_frames, extract_features
    from mrw.bench.runner import run_method

    out = Path(os.environ["OUT"])
    cache = Path(os.environ["MRW_CACHE"])
    spec = FeatureSpec(os.environ["DATASET"], "test", "resnet18", "none", 8.0, 4, 32)
    distributed.init(torch.device("cpu"))  # join the group first, or each rank would work alone
    assert distributed.world_size() == 2
    torch.manual_seed(0)  # the same random CNN on every rank
    extract_features(spec, progress=False)
    decode_frames(spec, progress=False)  # each rank decodes its share into one file
    options = synthetic_options(cache, out / "runs", epochs=2, lr=1e-2, run_id="ddp")
    result = run_method("tiny-test-method", {}, options)
    model = torch.load(result.run_dir / "checkpoint.pt", weights_only=False)["model"]
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in model.values())).hexdigest()
    record = {"run_dir": str(result.run_dir), "digest": digest}
    (out / f"rank{distributed.rank()}.json").write_text(json.dumps(record))
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_torchrun_shards_features_and_trains_with_ddp(tmp_path, monkeypatch, make_gif) -> None:
    dataset = str(tiny_dataset(tmp_path, make_gif))
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "single"))
    torch.manual_seed(0)
    single, _ = extract_features(spec(dataset), progress=False)
    single_frames = decode_frames(spec(dataset), progress=False)

    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {
        **os.environ,
        "OUT": str(tmp_path),
        "MRW_CACHE": str(tmp_path / "ddp"),
        "DATASET": dataset,
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc-per-node",
        "2",
        "--master-addr",
        "127.0.0.1",
        "--master-port",
        str(_free_port()),
        str(script),
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]

    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "ddp"))
    sharded = load_features(spec(dataset).cache_path())
    assert sharded.video_ids == single.video_ids and sharded.pair_ids == single.pair_ids
    torch.testing.assert_close(
        sharded.features.float(), single.features.float(), atol=1e-2, rtol=1e-2
    )
    assert not list(spec(dataset).cache_path().parent.glob("*.part*"))
    sharded_frames = decode_frames(spec(dataset), progress=False)  # the file the two ranks wrote
    frames_file = frames_cache_paths(spec(dataset))[0]
    assert frames_file.is_relative_to(tmp_path / "ddp") and not list(
        frames_file.parent.glob("*.partial")
    )
    assert torch.equal(sharded_frames.features, single_frames.features)
    assert torch.equal(sharded_frames.lengths, single_frames.lengths)

    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0] == ranks[1]  # one run folder (rank 0's clock) and identical weights everywhere
    record = json.loads((Path(ranks[0]["run_dir"]) / "metrics.json").read_text())
    assert record["world_size"] == 2 and record["metrics"]["rsum"] > 0
