"""Names, teams and descriptions on the board are data, never markup or terminal commands."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from markdown_it import MarkdownIt

from leaderboard.board import TEXT_LIMITS
from leaderboard.cli import main
from leaderboard.qrels import write_qrels
from leaderboard.render import markdown_text
from leaderboard.runfile import write_run

# What a CommonMark renderer would turn into live HTML if cells were not escaped.
PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "<svg/onload=alert(1)>",
    "<iframe src=javascript:alert(1)>",
    "[click](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<a href='x' onclick=alert(1)>a</a>",
    "`code` **bold** _em_ ~~strike~~",
    "pipe | in | name",
    "line\nbreak | with | cells",
    "<details open ontoggle=alert(1)>",
    "\\<script>alert(1)\\</script>",
]
ALLOWED_TAGS = {"h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "strong"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list]] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.tags.append((tag, attrs))


def _board_with(tmp_path: Path, names: list[str], capsys) -> tuple[str, Path]:
    """Add one submission per name (as name, team and description); render; (stdout, site)."""
    truth = tmp_path / "set" / "qrels" / "test"
    pairs = [(f"s{v}", f"v{v}") for v in range(4)]
    write_qrels(truth / "t2v.qrels", pairs)
    write_qrels(truth / "v2t.qrels", [(v, s) for s, v in pairs])
    board = tmp_path / "board.db"
    for index, name in enumerate(names):
        scores = np.eye(4) + np.random.default_rng(index).random((4, 4))
        t2v, v2t = tmp_path / f"t{index}.run", tmp_path / f"v{index}.run"
        write_run(t2v, [s for s, _ in pairs], [v for _, v in pairs], scores, "m")
        write_run(v2t, [v for _, v in pairs], [s for s, _ in pairs], scores.T, "m")
        argv = ["add", "--board", board, "--truth", truth, "--name", name, "--team", name]
        assert main([str(a) for a in [*argv, "--description", name, t2v, v2t]]) == 0
    out = tmp_path / "site"
    assert main(["render", "--board", str(board), "--out", str(out)]) == 0
    return capsys.readouterr().out, out


def test_rendered_markdown_carries_no_live_html_and_one_row_per_submission(
    tmp_path: Path, capsys
) -> None:
    _, out = _board_with(tmp_path, PAYLOADS, capsys)
    markdown = (out / "leaderboard.md").read_text()
    parser = _Tags()
    parser.feed(MarkdownIt("commonmark").enable("table").render(markdown))
    assert {tag for tag, _ in parser.tags} <= ALLOWED_TAGS
    assert all(attrs in ([], [("style", "text-align:right")]) for _, attrs in parser.tags)
    tags = [tag for tag, _ in parser.tags]
    columns = tags.count("th")
    assert tags.count("tr") == 1 + len(PAYLOADS)  # header + one row each: no name broke it
    assert tags.count("td") == columns * len(PAYLOADS)


def test_add_cleans_control_characters_and_never_echoes_escapes(tmp_path: Path, capsys) -> None:
    name = "evil\x1b]0;pwned\x07\x1b[2J name\r\nwith\x00 nul"
    printed, out = _board_with(tmp_path, [name], capsys)
    assert "recorded #1 'evil ]0;pwned [2J name with nul'" in printed
    assert "\x1b" not in printed and "\x07" not in printed
    for path in out.iterdir():
        text = path.read_text()
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
    assert "evil ]0;pwned [2J name with nul" in (out / "leaderboard.json").read_text()


def test_over_long_fields_are_refused_before_scoring(tmp_path: Path, capsys) -> None:
    truth = tmp_path / "t"
    write_qrels(truth / "t2v.qrels", [("s", "v")])
    write_qrels(truth / "v2t.qrels", [("v", "s")])
    (tmp_path / "r").write_text("s Q0 v 1 1.0 m\n")
    for field, limit in TEXT_LIMITS.items():
        value = "x" * (limit + 1)
        argv = ["add", "--board", str(tmp_path / "b.db"), "--truth", str(truth)]
        argv += ["--name", "n", "--team", "t", f"--{field}", value, *[str(tmp_path / "r")] * 2]
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("error: ") and f"at most {limit}" in err and len(err) < 200


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_text_is_rendered_as_the_literal_text(payload: str) -> None:
    html = MarkdownIt("commonmark").render(markdown_text(payload))
    parser = _Tags()
    parser.feed(html)
    assert [tag for tag, _ in parser.tags] == ["p"]
