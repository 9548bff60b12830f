"""HTML of the server: the live board (the `render` page, from the database) and one page per
scored submission. Every value from a team (names, descriptions) goes through `html.escape`."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from typing import Any

from leaderboard.board import Submission
from leaderboard.metrics import DIRECTIONS, Metrics
from leaderboard.render import METRIC_KEYS, display, metric_cells, page, to_html
from leaderboard.server.standings import Standings, cross_html
from mrw.core.untrusted import strip_control

NOT_FOUND = "<!doctype html><title>Not found</title><p>No such scored submission.</p>"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def submission_url(submission: Submission) -> str:
    """Site-relative URL of a submission's page, `/submissions/<id>`."""
    return f"/submissions/{int(submission.id)}"


def board_page(current: Standings, board_phases: Sequence[Mapping[str, Any]] = ()) -> str:
    """The board: its phases (when it has any), the rankings across datasets, then one table
    per (dataset, board, protocol card) as `mrw-leaderboard render` draws it plus the board
    columns, each method linked to its page.

    Args:
        current: the standings (`standings.current`).
        board_phases: `phases.public_view` of each phase, in order, with `open` (bool) added.
    """
    tables = [table for table, _, _ in current.tables]
    cross = "".join(cross_html(c) for c in current.cross)
    return to_html(tables, _now(), link=submission_url, before=phases_html(board_phases) + cross)


PHASE_MEANING = {
    "dev": "validation truth; per-query detail to the submitting team",
    "test": "hidden truth; public part's metrics until the reveal, then the private ranking",
    "closed": "permanent board; hidden truth, metrics only",
}


def phases_html(board_phases: Sequence[Mapping[str, Any]]) -> str:
    """The board's phases as a small escaped table (empty for a board without phases): name,
    split, what it shows, opens, closes, state ("open now", or "revealed" with its time); the
    phase open now marked."""
    if not board_phases:
        return ""
    rows = []
    for phase in board_phases:
        state = "open now" if phase["open"] else ""
        if phase.get("revealed_utc"):
            state = f"revealed {phase['revealed_utc']}"
        cells = (
            phase["name"],
            phase["split"],
            PHASE_MEANING.get(phase["name"], ""),
            phase["opens_utc"] or "—",
            phase["closes_utc"] or "—",
            state,
        )
        mark = ' class="open"' if phase["open"] else ""
        rows.append(f"<tr{mark}>" + "".join(f"<td>{_escape(str(c))}</td>" for c in cells) + "</tr>")
    columns = ("Phase", "Split", "Scored", "Opens", "Closes", "State")
    head = "".join(f"<th>{h}</th>" for h in columns)
    return (
        '<section class="phases"><h2>Phases</h2><table class="crosstab">'
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )


def _metrics_table(metrics: Metrics) -> str:
    head = "".join(f'<th class="num">{html.escape(k)}</th>' for k in METRIC_KEYS)
    rows = []
    for direction in DIRECTIONS:
        cells = "".join(
            f'<td class="num">{html.escape(text)}</td>'
            for text in metric_cells(metrics.direction(direction))
        )
        rows.append(f"<tr><td>{direction}</td>{cells}</tr>")
    return (
        f'<table class="board"><thead><tr><th>direction</th>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
        f'<p class="empty">rsum: {html.escape(display(metrics.rsum))}</p>'
    )


def _escape(text: str) -> str:
    return html.escape(strip_control(text))


def submission_page(
    submission: Submission, public_split: bool, declared: Sequence[tuple[str, str]] = ()
) -> str:
    """One scored submission: who, when, which files (SHA-256), what it declares (`declared`:
    label, text pairs, e.g. from `standings.declared_facts`), its metrics."""
    split = "public: per-query ranks in the API" if public_split else "hidden: metrics only"
    return _page(submission, split, _metrics_table(submission.metrics), declared)


def test_phase_page(
    submission: Submission,
    parts: list[tuple[str, Metrics]],
    declared: Sequence[tuple[str, str]] = (),
) -> str:
    """A test-phase submission: its facts, what it declares, then one metrics table per part
    shown now (`public`; after the reveal also `private` and `all queries`)."""
    tables = "".join(
        f"<h3>{html.escape(label)}</h3>{_metrics_table(metrics)}" for label, metrics in parts
    )
    split = "hidden, test phase: metrics of the public part only"
    return _page(submission, split, tables, declared)


def _page(
    submission: Submission, split: str, tables: str, declared: Sequence[tuple[str, str]] = ()
) -> str:
    e = _escape
    facts = [
        ("Team", submission.team),
        ("Dataset / split", f"{submission.dataset} / {submission.split}"),
        ("Submitted", submission.submitted_utc),
        ("Description", submission.description or "—"),
        ("t2v SHA-256", submission.t2v_sha256),
        ("v2t SHA-256", submission.v2t_sha256),
        ("Scorer version", submission.scorer_version),
        ("Split", split),
        *declared,
    ]
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in facts)
    body = (
        f"<section><h2>#{int(submission.id)} {e(submission.name)}</h2>"
        f'<table class="facts">{rows}</table>'
        f"{tables}"
        '<p class="empty"><a href="/">back to the board</a></p></section>'
    )
    return page(body, _now())
