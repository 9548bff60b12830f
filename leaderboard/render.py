"""Render the board: `leaderboard.md`, `leaderboard.json` and a self-contained `index.html`.

One table per (dataset, split, protocol card), ranked by rsum, captioned with the card's
summary (submissions without a card in a table of their own: results of different protocols
are never ranked together); the best value of each metric column is highlighted; the page
sorts by any column with a few lines of inline JavaScript and loads nothing from the network.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import html
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from leaderboard.board import Submission, list_submissions
from leaderboard.metrics import (
    DIRECTION_NAMES,
    DIRECTIONS,
    NDCG_CUTOFF,
    RECALL_KS,
    Better,
    Bound,
    DirectionMetrics,
    Value,
    best_indices,
    pessimistic_key,
)
from mrw.core.atomic import atomic_write
from mrw.core.protocol import ProtocolCard, card_document
from mrw.core.untrusted import strip_control


@dataclass(frozen=True)
class Column:
    """A table column: how to get its value, and whether higher or lower is better.

    `html`, when given, draws the cell's content as escaped HTML (e.g. a link) instead of
    the escaped text of its value; `title` is the header's tooltip.
    """

    label: str
    group: str
    get: Callable[[Submission], Any]
    better: Better | None = None  # None: not a metric
    html: Callable[[Submission], str] | None = None
    title: str = ""


def _metric(direction: str, name: str) -> Callable[[Submission], Value | None]:
    return lambda s: s.metrics.direction(direction).value(name)


COLUMNS: tuple[Column, ...] = (
    Column("Method", "", lambda s: s.name),
    Column("Team", "", lambda s: s.team),
    Column("Date", "", lambda s: s.submitted_utc[:10]),
    *(
        Column(label, direction, _metric(direction, label), better)
        for direction in DIRECTIONS
        for label, better in (*((f"R@{k}", "max") for k in RECALL_KS), ("MedR", "min"))
    ),
    Column("rsum", "", lambda s: s.metrics.rsum, "max"),
)
CENSORED_NOTE = (
    "≥ and > mark bounds from truncated runs (the true value is unknown beyond the run's "
    "depth): a bound is never highlighted as best unless it is certainly better than every "
    "other value, and it sorts after every known value it cannot be shown to beat."
)


# One direction's metrics in full, as the CLI table and a submission's page show them.
METRIC_KEYS = (
    *(f"R@{k}" for k in RECALL_KS),
    "MedR",
    "MeanR",
    "nMR",
    "mAP",
    f"nDCG@{NDCG_CUTOFF}",
    "queries",
    "missing_queries",
)
# Decimals where one would hide the differences (mAP and nDCG are fractions, not percents).
_METRIC_DIGITS = {"MeanR": 2, "nMR": 4, "mAP": 3, f"nDCG@{NDCG_CUTOFF}": 3}


def metric_cells(metrics: DirectionMetrics) -> list[str]:
    """One direction's metrics as text, in `METRIC_KEYS` order (`display`, with the decimals
    that keep MeanR's and nMR's differences visible)."""
    return [display(metrics.value(k), _METRIC_DIGITS.get(k, 1)) for k in METRIC_KEYS]


def display(value: Any, digits: int = 1) -> str:
    """A cell's text: floats with `digits` decimals, a bound as `≥ 50.0` or `> 3`."""
    if isinstance(value, Bound):
        symbol = {">=": "≥", "<=": "≤"}.get(value.kind, value.kind)
        strict_rank = value.kind in (">", "<") and float(value.value).is_integer()
        number = str(int(value.value)) if strict_rank else f"{value.value:.{digits}f}"
        return f"{symbol} {number}"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return "" if value is None else str(value)


def bound_title(value: Bound) -> str:
    """The tooltip of a censored cell: what the bound means and why it is not marked best."""
    side = "at least" if value.is_lower else "at most"
    return (
        f"censored: the true value is {side} {display(value).split(' ', 1)[1]} (from a "
        "truncated run); never marked best unless certainly better than every other value"
    )


NO_CARD = "No protocol card: how these results were measured was not stated."


@dataclass(frozen=True)
class Table:
    """The submissions of one (dataset, split, protocol card), best rsum first, with each
    column's best rows.

    The hosted board (`leaderboard.server.standings`) adds columns, a caption note and ranks:
    `ranks[i]` is None for an unranked row (a host's baseline, drawn with a badge); without
    `ranks`, rows are ranked by position.
    """

    dataset: str
    split: str
    rows: list[Submission]
    best: dict[int, set[int]]  # column index -> positions (in `rows`) of its best values
    columns: tuple[Column, ...] = COLUMNS
    ranks: list[int | None] | None = None
    card: ProtocolCard | None = None  # the rows' protocol card (None: submitted without one)
    caption_note: str = ""  # appended to the caption, e.g. that the card was derived

    @property
    def caption(self) -> str:
        """The table's caption: `Protocol card: <summary>` (+ `caption_note`), or `NO_CARD`."""
        text = f"Protocol card: {self.card.summary()}" if self.card else NO_CARD
        return text + self.caption_note

    def is_best(self, column: int, row: int) -> bool:
        """Whether `rows[row]` holds a best value of `columns[column]` (shown in bold)."""
        return row in self.best.get(column, ())

    def rank(self, row: int) -> int | None:
        """The rank shown for `rows[row]` (None: not ranked)."""
        return row + 1 if self.ranks is None else self.ranks[row]

    @property
    def censored(self) -> bool:
        """Whether any shown metric is a bound (the page then explains bounds)."""
        return any(isinstance(c.get(s), Bound) for s in self.rows for c in self.columns if c.better)


def build_tables(submissions: list[Submission]) -> list[Table]:
    """Group submissions into one `Table` per (dataset, split, protocol card hash), sorted by
    those labels (submissions without a card first, in a table of their own).

    Rows are ordered by rsum, best first, a bound counted at its pessimistic end
    (`pessimistic_key`) and a NaN last; ties by submission id. Each metric column's best rows
    come from `best_indices`.
    """
    groups: dict[tuple[str, str, str], list[Submission]] = {}
    for submission in submissions:
        card = submission.protocol_card
        key = (submission.dataset, submission.split, card.card_hash if card else "")
        groups.setdefault(key, []).append(submission)
    tables = []
    for (dataset, split, _), rows in sorted(groups.items()):
        rows = sorted(rows, key=lambda s: (-_finite(pessimistic_key(s.metrics.rsum, "max")), s.id))
        best = {
            index: best_indices([column.get(s) for s in rows], column.better)
            for index, column in enumerate(COLUMNS)
            if column.better
        }
        tables.append(Table(dataset, split, rows, best, card=rows[0].protocol_card))
    return tables


def _finite(value: float) -> float:
    return -math.inf if math.isnan(value) else value


def _sort_attribute(value: Any, column: Column) -> str:
    """The `data-sort` key of a cell: larger is better for metrics (see `pessimistic_key`)."""
    if not column.better:
        return str(value).lower()
    key = pessimistic_key(value, column.better)
    if math.isnan(key):
        return ""
    # The page sorts the numbers as shown (ascending first for lower-is-better columns), so a
    # lower-is-better key is negated back; JavaScript's parseFloat reads "Infinity".
    shown = key if column.better == "max" else -key
    return {math.inf: "Infinity", -math.inf: "-Infinity"}.get(shown, repr(shown))


def to_json(tables: list[Table], generated: str) -> dict[str, Any]:
    """The `leaderboard.json` document: every board's submissions with rank and metrics.

    Args:
        tables: From `build_tables`.
        generated: UTC time stamp, written as `generated_utc`.
    """
    return {
        "generated_utc": generated,
        "boards": [
            {
                "dataset": t.dataset,
                "split": t.split,
                "protocol_card": card_document(t.card) if t.card else None,
                "submissions": [
                    {
                        "rank": rank,
                        **dataclasses.asdict(s),
                        "metrics": s.metrics.to_json(),
                        "protocol_card": card_document(t.card) if t.card else None,
                    }
                    for rank, s in enumerate(t.rows, start=1)
                ],
            }
            for t in tables
        ],
    }


# The ASCII punctuation that can start Markdown or HTML syntax inside a table cell.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]<>&|~!])")


def markdown_text(value: str) -> str:
    """Text as literal Markdown: control characters removed, syntax characters escaped.

    CommonMark lets any ASCII punctuation be backslash-escaped, and an escaped character is
    always literal; escaping backslash, backtick and `* _ [ ] < > & | ~ !` means no user
    text can open HTML (`<script>`), an entity, a link or image, emphasis or a code span,
    or (with newlines removed) end a table cell or row.
    """
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", " ".join(strip_control(value).split()))


def to_markdown(tables: list[Table], generated: str) -> str:
    """The `leaderboard.md` page: one Markdown table per board, best values in bold.

    User-supplied text (names, teams, labels) is escaped with `markdown_text`.
    """
    lines = [
        "# Leaderboard",
        "",
        f"Generated {generated}. Ranked by rsum; best values in bold.",
        "",
    ]
    header = ["#"] + [f"{c.group} {c.label}".strip() for c in COLUMNS]
    for table in tables:
        lines += [f"## {markdown_text(table.dataset)} / {markdown_text(table.split)}", ""]
        lines += [markdown_text(table.caption), ""]
        lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        for position, submission in enumerate(table.rows):
            cells = [str(position + 1)]
            for index, column in enumerate(COLUMNS):
                text = markdown_text(display(column.get(submission)))
                cells.append(f"**{text}**" if table.is_best(index, position) else text)
            lines.append("| " + " | ".join(cells) + " |")
        if table.censored:
            lines += ["", f"_{CENSORED_NOTE}_"]
        lines.append("")
    return "\n".join(lines)


def to_html(
    tables: list[Table],
    generated: str,
    link: Callable[[Submission], str] | None = None,
    before: str = "",
) -> str:
    """The page; `link` gives each method name a URL (e.g. the server's submission page);
    `before` is escaped HTML put above the tables (the server's cross-dataset ranking)."""
    body = "\n".join(_html_table(t, link) for t in tables)
    return page(before + body or "<p class=empty>No submissions yet.</p>", generated)


def page(body: str, generated: str) -> str:
    """The board's HTML page (style, sorting script) around `body`, which must be escaped HTML."""
    return _PAGE.format(generated=html.escape(generated), tables=body, script=SORT_SCRIPT)


def _group_heads(columns: tuple[Column, ...]) -> str:
    """The header row naming the direction groups: one cell per run of equal `group`, the
    rank column counted with the first run."""
    spans: list[list] = []
    for column in columns:
        if spans and spans[-1][0] == column.group:
            spans[-1][1] += 1
        else:
            spans.append([column.group, 1])
    spans[0][1] += 1  # the rank column
    cells = []
    for group, span in spans:
        name = DIRECTION_NAMES.get(group, "")
        kind = ' class="group"' if name else ""
        cells.append(f'<th colspan="{span}"{kind}>{html.escape(name)}</th>')
    return "".join(cells)


def _html_table(table: Table, link: Callable[[Submission], str] | None = None) -> str:
    def e(text: str) -> str:
        return html.escape(strip_control(text))

    heads = ['<th data-col="0" data-type="num" data-better="min" tabindex="0">#</th>']
    for index, column in enumerate(table.columns, start=1):
        kind = "num" if column.better else "text"
        better = column.better or "min"
        align = ' class="num"' if column.better else ""
        tip = BETTER_HINT[column.better] if column.better else column.title
        hint = f' title="{e(tip)}"' if tip else ""
        heads.append(
            f'<th data-col="{index}" data-type="{kind}" data-better="{better}"{align}{hint} '
            'tabindex="0">'
            f"{e(column.label)}</th>"
        )
    body = []
    for position, submission in enumerate(table.rows):
        rank = table.rank(position)
        if rank is None:
            cells = ['<td data-sort="Infinity"><span class="badge">baseline</span></td>']
        else:
            cells = [f'<td data-sort="{rank}">{rank}</td>']
        for index, column in enumerate(table.columns):
            value = column.get(submission)
            classes = ["num"] if column.better else []
            if table.is_best(index, position):
                classes.append("best")
            title = ""
            if isinstance(value, Bound):
                classes.append("censored")
                title = f' title="{e(bound_title(value))}"'
            content = column.html(submission) if column.html else e(display(value))
            if index == 0 and link is not None:
                content = f'<a href="{e(link(submission))}">{content}</a>'
            if index == 0 and submission.description:
                content += f'<div class="desc">{e(submission.description)}</div>'
            attr = f' class="{" ".join(classes)}"' if classes else ""
            key = e(_sort_attribute(value, column))
            cells.append(f'<td{attr}{title} data-sort="{key}">{content}</td>')
        row_class = ' class="baseline"' if rank is None else ""
        body.append(f"<tr{row_class}>{''.join(cells)}</tr>")
    note = f'<p class="note">{e(CENSORED_NOTE)}</p>' if table.censored else ""
    caption = f'<p class="card">{e(table.caption)}</p>'
    return (
        f'<section><h2>{e(table.dataset)} <span class="split">{e(table.split)}</span></h2>'
        f"{caption}{rsum_plot(table)}"
        f'<table class="board"><thead><tr class="groups">{_group_heads(table.columns)}</tr>'
        f"<tr>{''.join(heads)}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</section>"
    )


BETTER_HINT = {"max": "higher is better", "min": "lower is better"}


def rsum_plot(table: Table, width: int = 320, height: int = 90) -> str:
    """A small inline SVG of rsum over submission time (every submission a dot, the best so
    far a line) when the table has more than one submission with a finite rsum, else ""."""
    points = []
    for submission in table.rows:
        value = submission.metrics.rsum
        number = float(value.value) if isinstance(value, Bound) else value
        when = _timestamp(submission.submitted_utc)
        if isinstance(number, (int, float)) and math.isfinite(number) and when is not None:
            points.append((when, float(number), submission.name))
    if len(points) < 2:
        return ""
    points.sort()
    t0, t1 = points[0][0], points[-1][0]
    low, high = min(p[1] for p in points), max(p[1] for p in points)
    pad = 8

    def xy(when: float, value: float) -> tuple[float, float]:
        x = pad + (width - 2 * pad) * ((when - t0) / (t1 - t0) if t1 > t0 else 0.5)
        y = (
            height
            - pad
            - (height - 2 * pad) * ((value - low) / (high - low) if high > low else 0.5)
        )
        return round(x, 1), round(y, 1)

    best, line = -math.inf, []
    for when, value, _ in points:
        best = max(best, value)
        line.append("{},{}".format(*xy(when, best)))
    dots = "".join(
        '<circle cx="{}" cy="{}" r="3"><title>{}</title></circle>'.format(
            *xy(when, value), html.escape(f"{strip_control(name)}: rsum {value:.1f}")
        )
        for when, value, name in points
    )
    label = f"rsum over time, {len(points)} submissions, {low:.1f} to {high:.1f}"
    return (
        f'<figure class="trend"><svg viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{html.escape(label)}">'
        f'<polyline points="{" ".join(line)}"></polyline>{dots}</svg>'
        f"<figcaption>{html.escape(label)}; the line is the best so far</figcaption></figure>"
    )


def _timestamp(text: str) -> float | None:
    """Seconds since the epoch of a submission's `submitted_utc`, None if unreadable."""
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def render(board: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, Path]:
    """Write the three renderings of `board` into `out_dir`; returns their paths."""
    tables = build_tables(list_submissions(board))
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    out = Path(out_dir)
    contents = {
        "leaderboard.md": to_markdown(tables, generated),
        "leaderboard.json": json.dumps(to_json(tables, generated), indent=2, ensure_ascii=False),
        "index.html": to_html(tables, generated),
    }
    paths = {}
    for name, text in contents.items():
        with atomic_write(out / name, "w") as handle:
            handle.write(text + "\n")
        paths[name] = out / name
    return paths


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>MRW leaderboard</title>
<style>
:root {{ --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec; --accent: #2456c9;
  --best: #e3f4e8; --bestink: #14632d; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--ink); background: #f6f7f9; }}
header {{ background: #fff; border-bottom: 1px solid var(--line); padding: 20px 32px; }}
h1 {{ margin: 0; font-size: 22px; }}
header p {{ margin: 4px 0 0; color: var(--muted); }}
main {{ padding: 24px 32px; max-width: 1280px; }}
section {{ background: #fff; border: 1px solid var(--line); border-radius: 8px;
  margin-bottom: 24px; overflow: auto; max-height: 85vh; }}
h2 {{ font-size: 16px; margin: 0; padding: 14px 16px; border-bottom: 1px solid var(--line); }}
.split {{ font-size: 12px; font-weight: 500; color: var(--accent); background: #eaf0fc;
  border-radius: 10px; padding: 2px 8px; margin-left: 6px; }}
table {{ border-collapse: collapse; width: 100%; }}
th, td {{ padding: 8px 12px; text-align: left; white-space: nowrap; }}
thead th {{ font-size: 12px; color: var(--muted); font-weight: 600;
  border-bottom: 1px solid var(--line); }}
thead tr.groups th {{ border-bottom: none; padding-bottom: 0; }}
th.group {{ text-align: center; color: var(--ink); }}
th[data-col] {{ cursor: pointer; user-select: none; }}
th[data-col]:hover {{ color: var(--accent); }}
th.num[data-better="max"]::before {{ content: "↑ "; color: var(--accent); }}
th.num[data-better="min"]::before {{ content: "↓ "; color: var(--accent); }}
thead tr:not(.groups) th {{ position: sticky; top: 0; background: #fff; z-index: 2; }}
.board tr > :nth-child(2), .board tr > :last-child {{ position: sticky; background: #fff; }}
.board tr > :nth-child(2) {{ left: 0; z-index: 1; white-space: normal; min-width: 140px;
  max-width: 260px; overflow-wrap: anywhere; }}
.board tr > :last-child {{ right: 0; z-index: 1; font-weight: 700;
  box-shadow: -1px 0 0 var(--line); }}
.board thead tr:not(.groups) th:nth-child(2), .board thead tr:not(.groups) th:last-child {{
  z-index: 3; }}
.board tr.groups > :nth-child(2), .board tr.groups > :last-child {{ position: static; }}
.trend {{ margin: 8px 16px 0; }}
.trend polyline {{ fill: none; stroke: var(--accent); stroke-width: 1.5; }}
.trend circle {{ fill: var(--ink); opacity: 0.6; }}
.trend figcaption {{ color: var(--muted); font-size: 12px; }}
th[aria-sort="ascending"]::after {{ content: " ▲"; }}
th[aria-sort="descending"]::after {{ content: " ▼"; }}
tbody tr {{ border-top: 1px solid var(--line); }}
tbody tr:hover {{ background: #fafbfc; }}
th.num, td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.board td.best {{ background: var(--best); color: var(--bestink); font-weight: 700; }}
td.censored {{ color: var(--muted); font-style: italic; cursor: help; }}
th[data-col]:focus-visible {{ outline: 2px solid var(--accent); outline-offset: -2px; }}
.card {{ color: var(--muted); font-size: 12px; margin: 0; padding: 8px 16px 0;
  overflow-wrap: anywhere; }}
.note {{ color: var(--muted); font-size: 12px; margin: 0; padding: 8px 16px 12px; }}
.desc {{ color: var(--muted); font-size: 12px; white-space: normal; max-width: 320px; }}
footer, .empty {{ color: var(--muted); font-size: 12px; padding: 0 32px 24px; }}
.badge {{ font-size: 11px; font-weight: 600; color: #7a4b00; background: #fff1d6;
  border: 1px solid #f0d49a; border-radius: 10px; padding: 1px 7px; }}
.board tr.baseline td {{ background: #fffaf0; font-style: italic; }}
td.missing {{ color: var(--muted); }}
.phases tr.open td {{ font-weight: 700; }}
</style></head>
<body>
<header><h1>MRW leaderboard</h1>
<p>Video–text retrieval: recall at k (%, higher is better) and median rank (lower is better)
in both directions; rsum is the sum of the six recalls. Best value per column
highlighted.</p></header>
<main>
{tables}
</main>
<footer>Generated {generated} by mrw-leaderboard. Click a column header (or focus it and press
Enter) to sort; ≥ and &gt; mark bounds from truncated runs, never highlighted as best unless
certainly better than every other value.</footer>
<script>{script}</script>
</body></html>"""

# The page's one script (column sorting). Pages from the server allow only this script, by
# its hash (Content-Security-Policy `script-src 'sha256-...'`), never inline script at large.
SORT_SCRIPT = """
(function () {
  function key(cell, type) {
    var v = cell.getAttribute("data-sort");
    if (type === "num") { var n = parseFloat(v); return isNaN(n) ? Infinity : n; }
    return v;
  }
  function sortBy(table, th) {
    var col = +th.getAttribute("data-col"), type = th.getAttribute("data-type");
    var current = th.getAttribute("aria-sort");
    var first = th.getAttribute("data-better") === "max" ? "descending" : "ascending";
    var dir = current ? (current === "ascending" ? "descending" : "ascending") : first;
    table.querySelectorAll("th[aria-sort]").forEach(function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir);
    var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], type), y = key(b.cells[col], type);
      var c = x < y ? -1 : x > y ? 1 : 0;
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  document.querySelectorAll("table.board").forEach(function (table) {
    table.querySelectorAll("th[data-col]").forEach(function (th) {
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") {
          event.preventDefault(); sortBy(table, th);
        }
      });
    });
  });
})();
"""
SORT_SCRIPT_CSP = (
    "'sha256-" + base64.b64encode(hashlib.sha256(SORT_SCRIPT.encode()).digest()).decode() + "'"
)
