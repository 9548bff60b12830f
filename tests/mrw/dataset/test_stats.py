"""`mrw stats`: hand-counted statistics, URL-only datasets, table / JSON / plot output."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mrw.cli import main
from mrw.core.text import words
from mrw.dataset import VideoRow, build_dataset
from mrw.dataset.stats import compute_stats, integer_histogram


@pytest.fixture(scope="module")
def small(tmp_path_factory, make_gif):
    three = make_gif([(0, 0, 0), (50, 0, 0), (99, 0, 0)], 100)  # 3 frames, 0.3 s
    five = make_gif([(0, 0, 10 * i) for i in range(5)], 200)  # 5 frames, 1.0 s
    rows = {
        "train": [
            VideoRow.from_media(three, id="a", video_id="v1", sentence="MRW my cat sees a dog!"),
            VideoRow.from_media(five, id="b", video_id="v2", sentence="mrw the dog sees my cat"),
        ],
        # TGIF-style: two sentences for one video; the video counts once.
        "test": [
            VideoRow.from_media(five, id="c", video_id="v3", sentence="a dog runs"),
            VideoRow.from_media(five, id="d", video_id="v3", sentence="the dog runs, fast :)"),
        ],
    }
    return build_dataset(rows, tmp_path_factory.mktemp("stats") / "ds")


def test_words_drop_punctuation_but_keep_contractions():
    assert words("MRW I don't know... :) 2 cats!") == ["mrw", "i", "don't", "know", "2", "cats"]


def test_hand_counted_statistics(small):
    stats = compute_stats(small)
    train, test, total = stats.splits["train"], stats.splits["test"], stats.total
    # train words: mrw my cat sees a dog (6) + mrw the dog sees my cat (6); vocabulary
    # {mrw, my, cat, sees, a, dog, the} = 7
    assert (train.pairs, train.videos, train.avg_words, train.vocabulary) == (2, 2, 6.0, 7)
    assert train.avg_frames == pytest.approx(4.0) and train.avg_duration_s == pytest.approx(0.65)
    assert train.avg_word_frequency == pytest.approx(12 / 7)
    # test: "a dog runs" (3) + "the dog runs fast" (4); one video of 5 frames
    assert (test.pairs, test.videos, test.avg_words, test.vocabulary) == (2, 1, 3.5, 5)
    assert test.avg_frames == pytest.approx(5.0)
    # all: 19 words over {mrw, my, cat, sees, a, dog, the, runs, fast} = 9
    assert (total.pairs, total.videos, total.vocabulary) == (4, 3, 9)
    assert total.avg_frames == pytest.approx((3 + 5 + 5) / 3)
    assert total.avg_word_frequency == pytest.approx(19 / 9)


def test_url_only_datasets_have_no_frame_statistics(tmp_path):
    rows = [VideoRow(id="x", video_id="v", sentence="a b c", media_url="https://m.example/v.gif")]
    built = build_dataset({"test": rows}, tmp_path / "urls", configs=("urls",))
    test = compute_stats(built).splits["test"]
    assert test.avg_frames is None and test.avg_duration_s is None and test.avg_words == 3


def test_cli_json_table_and_plot(small, tmp_path, capsys):
    assert main(["stats", str(small), "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["total"]["vocabulary"] == 9 and set(payload["splits"]) == {"train", "test"}
    plot = tmp_path / "lengths.png"
    assert main(["stats", str(small), "--plot", str(plot)]) == 0
    table = capsys.readouterr().out
    for label in ("pairs", "avg. frames / video", "vocabulary size", "avg. word frequency"):
        assert label in table
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_error_for_a_missing_dataset(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["stats", str(tmp_path / "empty")]) == 2
    assert "no MRW-format parquet shards" in capsys.readouterr().err


def test_cli_error_when_mrw_is_not_prepared(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MRW_CACHE", str(tmp_path))
    assert main(["stats", "mrw"]) == 2
    assert "mrw download mrw" in capsys.readouterr().err


def test_cli_plot_never_replaces_a_file_it_did_not_write(small, tmp_path, capsys):
    card = small / "README.md"
    before = card.read_bytes()
    for target in (card, Path("/dev/null")):
        assert main(["stats", str(small), "--plot", str(target)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1
    assert card.read_bytes() == before and Path("/dev/null").is_char_device()


def test_cli_qrels_never_replaces_a_user_file(small, tmp_path, capsys):
    mine = tmp_path / "truth" / "test" / "t2v.qrels"
    mine.parent.mkdir(parents=True)
    mine.write_text("my notes\n")
    assert main(["qrels", str(small), "--out", str(tmp_path / "truth")]) == 2
    assert capsys.readouterr().err.startswith("error: ") and mine.read_text() == "my notes\n"
    mine.unlink()
    for _ in range(2):  # its own earlier output is replaced
        assert main(["qrels", str(small), "--out", str(tmp_path / "truth")]) == 0
    assert mine.read_text().split("\n")[0].endswith(" 0 v3 1")


def test_cli_one_line_error_for_a_card_with_a_bad_row_count(small, tmp_path, capsys):
    copy = tmp_path / "ds"
    shutil.copytree(small, copy)
    card = copy / "README.md"
    text = card.read_text()
    assert "num_examples: 2" in text
    card.write_text(text.replace("num_examples: 2", "num_examples: lots", 1))
    assert main(["stats", str(copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "'lots' is not a whole number" in err
    assert err.count("\n") == 1


def test_length_histogram_bars_sit_on_integers_and_are_shares() -> None:
    edges, shares = integer_histogram([3, 3, 4, 7])
    assert edges == [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]
    assert shares == [0.5, 0.25, 0.0, 0.0, 0.25]
    wide_edges, wide = integer_histogram(list(range(1000)), max_bins=50)
    assert len(wide) <= 50 and sum(wide) == pytest.approx(1.0) and max(wide) <= 1.0
    assert all(float(edge - 0.5).is_integer() for edge in wide_edges)
    assert integer_histogram([]) == ([], [])
