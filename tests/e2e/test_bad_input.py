"""Every command against bad input: a one-line `error:`, exit 2, no traceback, no file replaced.

One table of cases, each a command line over a shared workspace of hostile inputs (missing,
a folder, a file where a folder is expected, empty, binary, wrong encoding, negative / NaN /
huge numbers, malformed URLs, unwritable output). Commands run in-process through their
`main(argv)`; a few run as real subprocesses to check the console scripts end the same way.
After every case, each file of the workspace still has its bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leaderboard.cli import main as leaderboard_main
from leaderboard.qrels import write_qrels
from mrw.bench.cli import main as bench_main
from mrw.cli import main as mrw_main
from mrw.dataset import VideoRow, build_dataset
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import synthetic_flags, synthetic_options

MAINS: dict[str, Callable[[list[str]], int]] = {
    "mrw": mrw_main,
    "mrw-bench": bench_main,
    "mrw-leaderboard": leaderboard_main,
}

# (command line, what is wrong). Words in braces name files of the workspace.
CASES: list[tuple[str, str]] = [
    # --- mrw collect
    ("mrw collect --dump {missing} --out {new}", "missing dump"),
    ("mrw collect --dump {dir} --out {new}", "dump is a folder"),
    ("mrw collect --dump {empty} --out {new}", "empty dump"),
    ("mrw collect --dump {binary} --out {new}", "binary dump"),
    ("mrw collect --dump {utf16} --out {new}", "UTF-16 dump"),
    ("mrw collect --dump {garbage_gz} --out {new}", "garbage gzip dump"),
    ("mrw collect --dump {dump} --out {file}", "--out is a file"),
    ("mrw collect --dump {dump} --out {file}/sub", "--out under a file"),
    ("mrw collect --dump {dump} --out {bad_state}", "garbage state.sqlite"),
    ("mrw collect --dump {dump} --out /proc/mrw-out", "unwritable output"),
    ("mrw collect --dump {dump} --out {new} --title-pattern (", "bad regex"),
    ("mrw collect --dump {dump} --out {new} --max-size nan", "NaN size"),
    ("mrw collect --dump {dump} --out {new} --max-size inf", "infinite size"),
    ("mrw collect --dump {dump} --out {new} --timeout -1", "negative timeout"),
    ("mrw collect --dump {dump} --out {new} --timeout 0", "zero timeout"),
    ("mrw collect --dump {dump} --out {new} --workers 10000000000", "huge workers"),
    ("mrw collect --dump {dump} --out {new} --retries -1", "negative retries"),
    ("mrw collect --dump {dump} --out {new} --max-wait nan", "NaN wait"),
    ("mrw collect --dump {dump} --out {new} --host-map x=ftp://u:p@h", "ftp host map"),
    ("mrw collect --dump {dump} --out {new} --host-map x=not-a-url", "malformed host map"),
    ("mrw collect --out {new}", "no source"),
    # --- mrw clean
    ("mrw clean {missing}", "missing collection"),
    ("mrw clean {file}", "collection is a file"),
    ("mrw clean {dir}", "folder without state"),
    ("mrw clean {bad_state}", "garbage state.sqlite"),
    ("mrw clean {collection} --out {file}", "--out is a file"),
    ("mrw clean {collection} --min-words -1", "negative words"),
    ("mrw clean {collection} --max-duration nan", "NaN duration"),
    ("mrw clean {collection} --workers 0", "zero workers"),
    ("mrw clean {collection} --workers 99999999", "huge workers"),
    # --- mrw build
    ("mrw build {missing} --out {new}", "missing clean folder"),
    ("mrw build {file} --out {new}", "clean folder is a file"),
    ("mrw build {dir} --out {new}", "no kept.jsonl"),
    ("mrw build {clean_latin1} --out {new}", "non-UTF-8 kept.jsonl"),
    ("mrw build {clean_binary} --out {new}", "binary kept.jsonl"),
    ("mrw build {clean_empty} --out {new}", "empty kept.jsonl"),
    ("mrw build {clean_latin1} --out {file}", "--out is a file"),
    ("mrw build {clean_latin1} --out {user_dir}", "--out is a user folder"),
    ("mrw build {clean_latin1} --out {new} --sizes a,b,c", "sizes not numbers"),
    ("mrw build {clean_latin1} --out {new} --sizes=-1,1,1", "negative sizes"),
    ("mrw build {clean_latin1} --out /proc/mrw-out", "unwritable output"),
    ("mrw build {clean_latin1} --out {new} --seed -1", "negative seed"),
    # --- mrw stats
    ("mrw stats {missing}", "missing dataset"),
    ("mrw stats {file}", "dataset is a file"),
    ("mrw stats {dir}", "empty folder"),
    ("mrw stats {garbage_dataset}", "garbage shard"),
    ("mrw stats {dataset} --plot {dir}", "--plot is a folder"),
    ("mrw stats {dataset} --plot {file}/x.png", "--plot under a file"),
    ("mrw stats {dataset} --plot /proc/x.png", "unwritable --plot"),
    ("mrw stats {dataset} --config nope", "unknown config"),
    # --- mrw import
    ("mrw import mrw-v1 --json {missing} --splits {mrw_splits} --out {new}", "missing JSON"),
    ("mrw import mrw-v1 --json {dir} --splits {mrw_splits} --out {new}", "JSON is a folder"),
    ("mrw import mrw-v1 --json {empty} --splits {mrw_splits} --out {new}", "empty JSON"),
    ("mrw import mrw-v1 --json {binary} --splits {mrw_splits} --out {new}", "binary JSON"),
    ("mrw import mrw-v1 --json {utf16} --splits {mrw_splits} --out {new}", "UTF-16 JSON"),
    ("mrw import mrw-v1 --json {mrw_json} --splits {missing} --out {new}", "missing splits"),
    ("mrw import mrw-v1 --json {mrw_json} --splits {file} --out {new}", "splits is a file"),
    ("mrw import mrw-v1 --json {mrw_json} --splits {mrw_splits} --videos {file}", "videos file"),
    ("mrw import mrw-v1 --json {mrw_json} --splits {mrw_splits} --out {file}", "--out is a file"),
    ("mrw import tgif --tsv {binary} --splits {tgif_splits} --out {new}", "binary TSV"),
    ("mrw import tgif --tsv {utf16} --splits {tgif_splits} --out {new}", "UTF-16 TSV"),
    ("mrw import tgif --tsv {empty} --splits {tgif_splits} --out {new}", "empty TSV"),
    ("mrw import tgif --tsv {dir} --splits {tgif_splits} --out {new}", "TSV is a folder"),
    ("mrw import tgif --tsv {tgif_tsv} --splits {binary_splits} --out {new}", "binary splits"),
    # --- mrw download / publish / toy
    ("mrw download nothing-like-this", "unknown dataset"),
    ("mrw download tgif --mirror not-a-url --out {new}", "malformed mirror"),
    ("mrw download tgif --mirror ftp://u:PASS@h/x --out {new}", "ftp mirror"),
    ("mrw download tgif --mirror http://u:PASS@/x --out {new}", "mirror without a host"),
    ("mrw download tgif --mirror http://[::1 --out {new}", "unparsable mirror"),
    ("mrw download mrw --sha256 xyz --out {new}", "bad --sha256"),
    ("mrw download tgif --workers -1 --out {new}", "negative workers"),
    ("mrw download tgif --workers 0 --out {new}", "zero workers"),
    ("mrw download org/name --mirror http://h/x", "mirror for a hub id"),
    ("mrw download org/name --out {new}", "hub offline"),
    ("mrw publish {missing} --repo a/b --dry-run", "missing dataset"),
    ("mrw publish {file} --repo a/b --dry-run", "dataset is a file"),
    ("mrw publish {dir} --repo a/b --dry-run", "empty folder"),
    ("mrw publish {dataset} --repo not-a-repo --dry-run", "bad repo id"),
    ("mrw publish {dataset} --repo a/b", "offline upload"),
    ("mrw toy --out {file}", "--out is a file"),
    ("mrw toy --out {user_dir}", "--out is a user folder"),
    ("mrw toy --out {new} --num-pairs -1", "negative pairs"),
    ("mrw toy --out {new} --num-pairs nan", "NaN pairs"),
    ("mrw toy --out {new} --size 1000000000", "huge size"),
    ("mrw toy --out {file}/sub", "--out under a file"),
    ("mrw toy --out /proc/mrw-out", "unwritable output"),
    # --- mrw-bench
    ("mrw-bench features --dataset {missing}", "missing dataset"),
    ("mrw-bench features --dataset {file}", "dataset is a file"),
    ("mrw-bench features --dataset {garbage_dataset}", "garbage shard"),
    ("mrw-bench features --dataset toy --num-frames -1", "negative frames"),
    ("mrw-bench features --dataset toy --fps nan", "NaN fps"),
    ("mrw-bench features --dataset toy --fps 0", "zero fps"),
    ("mrw-bench features --dataset toy --image-size 0", "zero image size"),
    ("mrw-bench features --dataset toy --workers -1", "negative workers"),
    ("mrw-bench features --dataset toy --splits bogus", "unknown split"),
    ("mrw-bench run tiny-test-method {synthetic} --epochs -1", "negative epochs"),
    ("mrw-bench run tiny-test-method {synthetic} --epochs 0", "zero epochs"),
    ("mrw-bench run pvse {synthetic} --epochs 0", "zero epochs, PVSE"),
    ("mrw-bench run tiny-test-method {synthetic} --epochs 1000000000000", "huge epochs"),
    ("mrw-bench run tiny-test-method {synthetic} --lr nan", "NaN lr"),
    ("mrw-bench run tiny-test-method {synthetic} --lr -1", "negative lr"),
    ("mrw-bench run tiny-test-method {synthetic} --lr 0", "zero lr"),
    ("mrw-bench run tiny-test-method {synthetic} --batch-size 0", "zero batch"),
    ("mrw-bench run tiny-test-method {synthetic} --margin nan", "NaN margin"),
    ("mrw-bench run tiny-test-method {synthetic} --run-depth 0", "zero depth"),
    ("mrw-bench run tiny-test-method {synthetic} --min-word-count 0", "zero word count"),
    ("mrw-bench run tiny-test-method {synthetic} --runs-dir {file}", "--runs-dir is a file"),
    ("mrw-bench run tiny-test-method {synthetic} --runs-dir {file}/x", "--runs-dir under a file"),
    ("mrw-bench run tiny-test-method {synthetic} --glove {empty}", "empty GloVe"),
    ("mrw-bench run tiny-test-method {synthetic} --glove {binary}", "binary GloVe"),
    ("mrw-bench run tiny-test-method {synthetic} --glove {missing}", "missing GloVe"),
    ("mrw-bench run tiny-test-method {synthetic} --glove {dir}", "GloVe is a folder"),
    ("mrw-bench run tiny-test-method {synthetic} --resume {missing}", "missing resume"),
    ("mrw-bench run tiny-test-method {synthetic} --run-id ../escape", "run id is a path"),
    ("mrw-bench run tiny-test-method {synthetic} --set embed_dim=nan", "NaN --set"),
    ("mrw-bench run tiny-test-method {synthetic} --set nope", "malformed --set"),
    ("mrw-bench run no-such-method", "unknown method"),
    ("mrw-bench compare {missing}", "missing runs"),
    ("mrw-bench compare {binary}", "binary runs"),
    ("mrw-bench compare {bad_run}", "garbage metrics.json"),
    ("mrw-bench compare {dir}", "no runs"),
    ("mrw-bench sweep --k a,b {synthetic_sweep}", "K not numbers"),
    ("mrw-bench sweep --k -1 {synthetic_sweep}", "negative K"),
    ("mrw-bench sweep --epochs -1 {synthetic_sweep}", "negative epochs"),
    ("mrw-bench sweep --k 1 --seeds 0 {synthetic_sweep}", "zero seeds"),
    ("mrw-bench sweep --k 1 {synthetic_sweep} --out /proc/mrw-out", "unwritable output"),
    ("mrw-bench sweep --div-weight nan {synthetic_sweep}", "NaN weight"),
    ("mrw-bench sweep --k 1 {synthetic_sweep} --out {file}", "--out is a file"),
    ("mrw-bench reproduce toy --dry-run --epochs -1", "negative epochs"),
    ("mrw-bench reproduce toy --dry-run --seeds 0", "zero seeds"),
    ("mrw-bench reproduce toy --out {file} --epochs 1 --runs-dir {file}", "outputs are files"),
    # --- mrw-leaderboard
    ("mrw-leaderboard score --truth {missing} {run} {run}", "missing truth"),
    ("mrw-leaderboard score --truth {file} {run} {run}", "truth is a file"),
    ("mrw-leaderboard score --truth {dir} {run} {run}", "truth without qrels"),
    ("mrw-leaderboard score --truth {truth} {missing} {run}", "missing run"),
    ("mrw-leaderboard score --truth {truth} {dir} {run}", "run is a folder"),
    ("mrw-leaderboard score --truth {truth} {binary} {run}", "binary run"),
    ("mrw-leaderboard score --truth {truth} {utf16} {run}", "UTF-16 run"),
    ("mrw-leaderboard score --truth {truth} {empty} {run}", "empty run"),
    ("mrw-leaderboard score --truth {truth} {garbage_gz} {run}", "garbage gzip run"),
    ("mrw-leaderboard score --truth {truth} --max-bytes -1 {run} {run}", "negative max bytes"),
    ("mrw-leaderboard score --truth {bad_truth} {run} {run}", "binary qrels"),
    ("mrw-leaderboard validate --truth {truth} --direction up {run}", "unknown direction"),
    ("mrw-leaderboard validate --truth {truth} --direction t2v {latin1}", "non-UTF-8 run"),
    ("mrw-leaderboard add --board {dir} --truth {truth} --name n --team t {runs}", "board dir"),
    ("mrw-leaderboard add --board {binary} --truth {truth} --name n --team t {runs}", "garbage"),
    ("mrw-leaderboard add --board {new} --truth {truth} --name ' ' --team t {runs}", "blank"),
    ("mrw-leaderboard add --board {board} --truth {truth} --name n --team t {runs}", "resubmit"),
    ("mrw-leaderboard add --board /proc/b.db --truth {truth} --name n --team t {runs}", "no db"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {truth} --port 99999", "port range"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {truth} --workers 100000", "workers"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {truth} --host 256.1.1.1", "bad host"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {truth} --public-split x", "no split"),
    ("mrw-leaderboard serve --board {file}/b.db --truth {truth}", "board under a file"),
    ("mrw-leaderboard serve --board {new}/b.db --truth {truth} --storage {file}/s", "storage"),
    ("mrw-leaderboard serve --db nosuch://x --storage {new} --truth {truth}", "no dialect"),
    (
        "mrw-leaderboard serve --db mysql://u:pw@127.0.0.1:1/x --storage {new} --truth {truth}",
        "no driver",
    ),  # fmt: skip
    ("mrw-leaderboard team list --db nosuch://x", "team: no dialect"),
    ("mrw-leaderboard baseline add --board {new}/b.db --truth {truth} {missing}", "no runs dir"),
    ("mrw-leaderboard baseline add --board {new}/b.db --truth {truth} {dir}", "no finished run"),
    ("mrw-leaderboard team add x --board {file}/b.db", "team: board under a file"),
    ("mrw-leaderboard phase open test --board {new}/b.db --end soon", "phase: bad time"),
    ("mrw-leaderboard phase reveal --board {new}/b.db", "phase: no test phase"),
    ("mrw-leaderboard phase close dev --board {new}/b.db", "phase: no such phase"),
    ("mrw-leaderboard select --server http://127.0.0.1:9 --clear 3", "select: ids and --clear"),
    ("mrw-leaderboard render --board {missing} --out {new}", "missing board"),
    ("mrw-leaderboard render --board {binary} --out {new}", "garbage board"),
    ("mrw-leaderboard render --board {board} --out {file}", "--out is a file"),
    ("mrw-leaderboard render --board {board} --out {file}/sub", "--out under a file"),
    ("mrw-leaderboard render --board {board} --out /proc/mrw-out", "unwritable output"),
]
# One per console script (and --plot DIR, a traceback before), run as real processes.
SUBPROCESS_CASES = [
    "mrw collect --dump {binary} --out {new}",
    "mrw stats {dataset} --plot {dir}",
    "mrw-bench run pvse {synthetic} --epochs 0",
    "mrw-leaderboard score --truth {truth} {utf16} {run}",
]


def _digest(root: Path) -> dict[str, str]:
    """Every file under `root` (outside the scratch folder) -> SHA-256 of its bytes."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file() and "scratch" not in path.relative_to(root).parts
    }


def _workspace(root: Path) -> dict[str, str]:
    """The hostile inputs, and a few valid ones each case spoils one thing of."""
    paths: dict[str, Path] = {}

    def add(name: str, data: bytes | None = None, rel: str | None = None) -> Path:
        path = root / (rel or name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if data is not None:
            path.write_bytes(data)
        paths[name] = path
        return path

    binary = bytes(range(256)) * 16 + b"\x00\xff" * 100
    add("missing", rel="no/such/thing")
    add("dir", rel="an-empty-folder").mkdir()
    add("file", b"the user's own notes\n", "notes.txt")
    add("empty", b"")
    add("binary", binary, "binary.bin")
    add("utf16", "MRW text in the wrong encoding\n".encode("utf-16"), "utf16.txt")
    add("latin1", b"s1 Q0 caf\xe9 1 1.0 t\n", "latin1.txt")
    add("garbage_gz", b"\x1f\x8b\x08\x00" + binary, "garbage.gz")
    user_dir = add("user_dir", rel="documents")
    user_dir.mkdir()
    (user_dir / "thesis.tex").write_text("the user's thesis")
    post = {"id": "p1", "title": "MRW a case", "url": "http://127.0.0.1:9/a.gif"}
    add("dump", (json.dumps({**post, "subreddit": "reactiongifs"}) + "\n").encode(), "d.ndjson")
    add("bad_state", binary, "bad-collection/state.sqlite")
    paths["bad_state"] = paths["bad_state"].parent
    collection = add("collection", rel="collection")
    collection.mkdir()
    add("clean_latin1", b'{"id": "caf\xe9"}\n', "clean-latin1/kept.jsonl")
    add("clean_binary", binary, "clean-binary/kept.jsonl")
    add("clean_empty", b"", "clean-empty/kept.jsonl")
    for name in ("clean_latin1", "clean_binary", "clean_empty"):
        paths[name] = paths[name].parent
    rows = [
        VideoRow(id=f"p{i}", video_id=f"v{i}", sentence=f"s {i}", media_url=f"https://x/{i}")
        for i in range(3)
    ]
    paths["dataset"] = build_dataset({"train": rows}, root / "dataset", configs=("urls",))
    garbage = build_dataset({"train": rows}, root / "garbage-dataset", configs=("urls",))
    next((garbage / "urls").glob("*.parquet")).write_bytes(binary)
    paths["garbage_dataset"] = garbage
    items = [{"id": "m1", "sentence": "MRW x", "images": {"mp4_url": "https://x/m1.mp4"}}]
    add("mrw_json", json.dumps(items).encode(), "mrw/mrw-v1.0.json")
    for split in ("train", "valid", "test"):
        add(f"mrw_{split}", b"m1\n" if split == "test" else b"", f"mrw/split/{split}.tsv")
    paths["mrw_splits"] = root / "mrw" / "split"
    add("tgif_tsv", b"https://x/a.gif\ta clip\n", "tgif/tgif.tsv")
    add("tgif_test", b"https://x/a.gif\n", "tgif/splits/test.txt")
    paths["tgif_splits"] = paths["tgif_test"].parent
    add("binary_test", binary, "tgif-binary/splits/test.txt")
    paths["binary_splits"] = paths["binary_test"].parent
    truth = root / "truth"
    write_qrels(truth / "t2v.qrels", [("s1", "v1"), ("s2", "v2")])
    write_qrels(truth / "v2t.qrels", [("v1", "s1"), ("v2", "s2")])
    paths["truth"] = truth
    add("bad_truth_t2v", binary, "bad-truth/t2v.qrels")
    add("bad_truth_v2t", binary, "bad-truth/v2t.qrels")
    paths["bad_truth"] = paths["bad_truth_t2v"].parent
    add("run", b"s1 Q0 v1 1 1.0 t\ns2 Q0 v2 1 1.0 t\n", "run.txt")
    add("run_v2t", b"v1 Q0 s1 1 1.0 t\nv2 Q0 s2 1 1.0 t\n", "run-v2t.txt")
    board = ["add", "--board", str(root / "board.db"), "--truth", str(truth), "--name", "m"]
    assert leaderboard_main([*board, "--team", "t", str(paths["run"]), str(paths["run_v2t"])]) == 0
    paths["board"] = root / "board.db"
    add("bad_run", b'{"method": ', "runs/x/m/r1/metrics.json")
    paths["bad_run"] = paths["bad_run"].parent
    text = {name: str(path) for name, path in paths.items()}
    text["runs"] = f"{paths['run']} {paths['run_v2t']}"
    text["dump_gz"] = str(root / "d.ndjson.gz")
    (root / "d.ndjson.gz").write_bytes(gzip.compress(paths["dump"].read_bytes()))
    return text


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    root = tmp_path_factory.mktemp("bad-input")
    mp = pytest.MonkeyPatch()
    mp.setenv("MRW_CACHE", str(root / "scratch" / "cache"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    names = _workspace(root)
    options = synthetic_options(root / "scratch" / "cache", root / "scratch" / "runs")
    flags = shlex.join(synthetic_flags(options))
    names["synthetic"] = f"{flags} --runs-dir {root}/scratch/runs"
    names["synthetic_sweep"] = names["synthetic"]
    yield root, names
    mp.undo()


def _argv(line: str, names: dict[str, str]) -> tuple[str, list[str]]:
    program, *argv = shlex.split(line.format(**names))
    return program, argv


@pytest.mark.parametrize(
    ("line", "problem"), CASES, ids=[f"{i}-{p}" for i, (_, p) in enumerate(CASES)]
)
def test_bad_input_is_one_error_line_exit_2_and_no_file_replaced(
    workspace, capsys, line: str, problem: str
) -> None:
    root, names = workspace
    before = _digest(root)
    fresh = root / "scratch" / f"out-{CASES.index((line, problem))}"  # never there before
    program, argv = _argv(line, {**names, "new": str(fresh)})
    code = MAINS[program](argv)
    err = capsys.readouterr().err
    lines = [text for text in err.replace("\r", "\n").splitlines() if text.strip()]
    assert code == 2, f"{problem}: exit {code}, stderr {err!r}"
    assert lines and lines[-1].startswith("error: "), f"{problem}: {err!r}"
    assert len([text for text in lines if text.startswith("error:")]) == 1
    assert "Traceback" not in err and "PASS" not in err
    assert _digest(root) == before, f"{problem}: a file of the workspace changed"


@pytest.mark.parametrize("line", SUBPROCESS_CASES)
def test_console_scripts_end_the_same_way(workspace, line: str) -> None:
    root, names = workspace
    assert any(line == case for case, _ in CASES)
    program, argv = _argv(line, {**names, "new": str(root / "scratch" / "sub")})
    script = Path(sys.executable).parent / program
    result = subprocess.run(
        [str(script), *argv], capture_output=True, text=True, check=False, env=os.environ
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: ")


def test_the_documented_case_count_matches_the_table() -> None:
    page = (Path(__file__).resolve().parents[2] / "docs" / "reliability.md").read_text(
        encoding="utf-8"
    )
    assert f"{len(CASES)} bad inputs" in page
