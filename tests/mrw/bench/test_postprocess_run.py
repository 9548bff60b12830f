"""`--postprocess` in a run: the raw result is unchanged, the post-processed rows sit beside it
in `metrics.json` with their stream check and bank, and old records read without them."""

from __future__ import annotations

import json

import pytest

from mrw.bench.cli import main
from mrw.bench.compare import compare_runs
from mrw.bench.postprocess import postprocessed_markdown
from mrw.bench.record import RunRecord, migrate
from mrw.bench.runner import run_method
from mrw.core.protocol import card_from_document
from mrw.testing import bench_synthetic  # noqa: F401  (registers the tiny test method)
from mrw.testing.bench_synthetic import SIZES, synthetic_options

METHOD = "tiny-test-method"


@pytest.fixture()
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path / "cache"))
    return tmp_path


def test_postprocessed_rows_beside_an_unchanged_raw_result(env) -> None:
    plain = run_method(
        METHOD, {}, synthetic_options(env / "cache", env / "runs", epochs=2, run_id="plain")
    )
    options = synthetic_options(
        env / "cache",
        env / "runs",
        epochs=2,
        run_id="post",
        postprocess=("dsl", "qb-norm", "inverted-softmax:beta=10", "dsl"),
        qb_bank_size=100,
    )
    post = run_method(METHOD, {}, options)

    assert post.record.metrics == plain.metrics  # the raw result stays the result
    assert post.record.exact_metrics == plain.record.exact_metrics
    for name in ("t2v.run.gz", "v2t.run.gz", "query_ranks.json"):
        assert (post.run_dir / name).read_bytes() == (plain.run_dir / name).read_bytes()
    assert post.run_dir.parent == plain.run_dir.parent  # same experiment, same hash prefix
    assert post.run_dir.name != plain.run_dir.name

    document = json.loads((post.run_dir / "metrics.json").read_text())
    entries = document["postprocessed"]
    assert list(entries) == [
        "dsl(temperature=0.01,v2t_softmax=queries)",
        "qb-norm(bank=train,n=100,k=1,beta=20)",
        "inverted-softmax(bank=train,n=100,beta=10)",
    ]
    qb = entries["qb-norm(bank=train,n=100,k=1,beta=20)"]
    assert entries["dsl(temperature=0.01,v2t_softmax=queries)"]["bank"] is None
    assert qb["bank"] == {"split": "train", "drawn": 100, "seed": 0, "t2v": 100, "v2t": 100}
    for entry in entries.values():
        assert entry["metrics"]["t2v"]["queries"] == SIZES["test"]
        assert set(entry["stream_check"]) >= {"shuffled_duplicated", "one_at_a_time"}
    # DSL one query at a time is the raw ranking; the train-bank methods ignore the stream.
    dsl = entries["dsl(temperature=0.01,v2t_softmax=queries)"]
    assert dsl["stream_check"]["one_at_a_time"] == plain.record.exact_metrics.to_json()
    for label in list(entries)[1:]:
        check = entries[label]["stream_check"]
        assert check["one_at_a_time"] == check["shuffled_duplicated"] == entries[label]["metrics"]

    record = RunRecord.from_disk(post.run_dir)
    assert record.postprocessed == entries
    for label, entry in entries.items():  # each result's card: the run's, post-processed
        card = card_from_document(entry["protocol_card"])
        assert record.protocol_card.differing_fields(card) == ["postprocess"]
        assert card.postprocess == label
    assert RunRecord.from_disk(plain.run_dir).postprocessed is None

    table = postprocessed_markdown(compare_runs([env / "runs"]).groups)
    assert table.count("\n") == 2 + 3 and "+ qb-norm(bank=train,n=100,k=1,beta=20)" in table


def test_compare_prints_postprocessed_rows_after_the_raw_table(env, capsys) -> None:
    options = synthetic_options(env / "cache", env / "runs", epochs=1, postprocess=("dsl",))
    run_method(METHOD, {}, options)
    run_method(METHOD, {}, synthetic_options(env / "cache", env / "runs2", epochs=1))
    markdown, document = env / "compare.md", env / "compare.json"
    assert main(["compare", str(env / "runs"), "--markdown", str(markdown), "--json",
                 str(document)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    raw_table, extra = out.split("| Post-processed (beside the raw row")
    card = RunRecord.from_disk(next((env / "runs").rglob("metrics.json")).parent).protocol_card
    row = f"{METHOD} + dsl(temperature=0.01,v2t\\_softmax=queries) (card "  # Markdown-escaped
    assert "dsl" not in raw_table and row in extra
    dsl = card.replace(postprocess="dsl(temperature=0.01,v2t_softmax=queries)")
    assert f"(card {dsl.card_id}) | 1 |" in extra
    assert markdown.read_text() == out  # the file holds the tables printed after the raw ones
    (group,) = [g for t in json.loads(document.read_text())["tables"] for g in t["rows"]]
    assert list(group["postprocessed"]) == ["dsl(temperature=0.01,v2t_softmax=queries)"]
    assert main(["compare", str(env / "runs2")]) == 0
    assert "Post-processed" not in capsys.readouterr().out


def test_the_label_names_the_bank_drawn_from_a_smaller_train_split(env) -> None:
    options = synthetic_options(
        env / "cache", env / "runs", epochs=1, postprocess=("qb-norm",), qb_bank_size=10_000
    )
    entries = run_method(METHOD, {}, options).record.postprocessed
    train = SIZES["train"]
    assert list(entries) == [f"qb-norm(bank=train,n={train},k=1,beta=20)"]
    assert entries[f"qb-norm(bank=train,n={train},k=1,beta=20)"]["bank"]["drawn"] == train


def test_records_without_the_field_still_read() -> None:
    old = {"format_version": 3, "method": "m", "dataset": "d", "split": "test"}
    assert migrate(old)["postprocessed"] is None


def test_unknown_postprocessing_is_one_line_exit_2(capsys) -> None:
    assert main(["run", METHOD, "--postprocess", "softmax"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "unknown post-processing 'softmax'" in lines[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("dsl:temperature=1e-300", "dsl: temperature: must be a finite number >= 0.0001"),
        ("dsl:temperature=0.01,temperature=0.02", "dsl: temperature is given twice"),
    ],
)
def test_a_parameter_out_of_range_or_repeated_is_one_line_exit_2(spec, message, capsys) -> None:
    assert main(["run", METHOD, "--postprocess", spec]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
