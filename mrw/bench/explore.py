"""The retrieval explorer: one static, self-contained HTML page per run (`mrw-bench explore`).

It reads what every finished run has, `metrics.json` (the set-aware summary) and
`per_query.parquet` (ranks, winning heads, top items and sentences per query), so it works for
any method and after the feature cache is gone. Two things come from elsewhere, when there:
thumbnails are re-encoded from the dataset's own media (the frames the run's features were
sampled at, bounded in size), and PIE-Net's attention over frames and words is recomputed from
the run's weights and cached features (`mrw.bench.heads.load_trained`, PVSE with K >= 1). The
page says which of the two it could not show and why.

The page opens from disk with no server and no network: images are data URIs, the one script
and the one style sheet are allowed by their SHA-256 in a Content-Security-Policy, every
dataset string (Reddit titles are untrusted) is escaped by Jinja2's autoescaping and inserted
as text, and the size is bounded by `Caps` (stated on the page).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mrw.bench.record import RunRecord, RunRecordError
from mrw.bench.setaware import PER_QUERY_FILE
from mrw.core.errors import MRWError
from mrw.core.protocol import ProtocolCardError, require_one_card

SHOWN_ITEMS = 5  # retrieved items per query card
LEVELS = 8  # attention intensity classes a0..a7


class ExploreError(MRWError):
    """A run folder the explorer cannot read (no record, no per-query table)."""


@dataclass(frozen=True)
class Caps:
    """What bounds the page's size: query cards per direction, thumbnails (distinct videos),
    their side in pixels and frames each, and the best/worst and fixed/broken lists."""

    queries: int = 200
    thumbnails: int = 400
    thumb_size: int = 48
    thumb_frames: int = 8
    listed: int = 20

    def describe(self) -> str:
        """The caps in words, as the page states them."""
        return (
            f"at most {self.queries} queries per direction (the worst, the best, then spread "
            f"over the rest), {SHOWN_ITEMS} retrieved items each, {self.thumbnails} thumbnails "
            f"of {self.thumb_size} px and {self.thumb_frames} frames, {self.listed} queries per "
            "list"
        )


@dataclass
class Run:
    """A finished run as the explorer reads it: its record and its per-query rows per
    direction (dicts of the `per_query.parquet` columns)."""

    path: Path
    record: RunRecord
    rows: dict[str, list[dict[str, Any]]]

    @property
    def label(self) -> str:
        k = self.record.config.get("method_config", {}).get("k")
        return f"{self.record.method}" + (f" (K={k})" if k is not None else "")


def load_run(path: str | Path) -> Run:
    """Read a run folder's `metrics.json` and `per_query.parquet`.

    Raises:
        ExploreError: no finished run there, or no readable per-query table (a run from
            before the set-aware evaluation: run it again).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        record = RunRecord.from_disk(path)
    except RunRecordError as exc:
        raise ExploreError(str(exc)) from None
    table_path = path / PER_QUERY_FILE
    try:
        rows = pq.read_table(table_path).to_pylist()
    except (OSError, pa.ArrowException) as exc:
        reason = "missing" if not table_path.exists() else " ".join(str(exc).split())[:120]
        raise ExploreError(
            f"{table_path}: no per-query table ({reason}); runs record it since format "
            "version 3 of metrics.json"
        ) from None
    by_direction: dict[str, list[dict[str, Any]]] = {"t2v": [], "v2t": []}
    for row in rows:
        if row.get("direction") in by_direction:
            by_direction[row["direction"]].append(row)
    return Run(path, record, by_direction)


def pick_queries(rows: list[dict[str, Any]], cap: int) -> list[dict[str, Any]]:
    """At most `cap` rows: a quarter worst-ranked, a quarter best, the rest evenly spread."""
    found = sorted((r for r in rows if r["rank"] > 0), key=lambda r: (r["rank"], r["query"]))
    if len(found) <= cap:
        return found
    edge = cap // 4
    chosen = {id(r): r for r in found[:edge] + found[-edge:]}
    middle = found[edge:-edge] if edge else found
    step = len(middle) / max(cap - len(chosen), 1)
    for i in range(cap - len(chosen)):
        row = middle[int(i * step)]
        chosen[id(row)] = row
    return sorted(chosen.values(), key=lambda r: (r["rank"], r["query"]))


def dataset_folder(dataset: str) -> Path | None:
    """The local folder of a run's dataset (a catalogued one's prepared copy, or the folder
    itself), None when there is none on this machine (nothing is built or downloaded)."""
    from mrw.catalog import find_dataset
    from mrw.dataset.validate import CARD_FILE

    record = find_dataset(dataset)
    folder = record.folder if record else Path(dataset)
    return folder if (folder / CARD_FILE).is_file() else None


def thumbnails(
    folder: Path, split: str, video_ids: list[str], caps: Caps, num_frames: int, fps: float | None
) -> dict[str, str]:
    """Animated GIF data URIs of `video_ids` (the first `caps.thumbnails`), re-encoded from
    the dataset's media: `min(num_frames, caps.thumb_frames)` frames sampled as the run's
    features were (`mrw.media.frames.decode` at `fps`), `caps.thumb_size` px square. A clip
    that does not decode gets no thumbnail."""
    from PIL import Image

    from mrw.dataset.reader import iter_rows
    from mrw.media.frames import decode
    from mrw.media.limits import FrameDecodeError

    wanted = set(video_ids[: caps.thumbnails])
    out: dict[str, str] = {}
    for row in iter_rows(folder, split):
        if row.video_id not in wanted or row.video_id in out or not row.video_bytes:
            continue
        try:
            clip = decode(row.video_bytes, min(num_frames, caps.thumb_frames), fps, caps.thumb_size)
        except (FrameDecodeError, ValueError):
            continue
        frames = [Image.fromarray(f.permute(1, 2, 0).numpy()) for f in clip.frames]
        buffer = io.BytesIO()
        frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=150, loop=0)
        out[row.video_id] = "data:image/gif;base64," + base64.b64encode(buffer.getvalue()).decode()
        if len(out) == len(wanted):
            break
    return out


def toy_kinds(folder: Path, split: str, pair_ids: list[str]) -> dict[str, str] | None:
    """The kind of moment (object, scene, pattern) each toy sentence names, regenerated from
    the toy set's seed (`mrw.toy.video.toy_scenes`; the card records the generator's
    settings); None for a dataset that is not a toy set."""
    from mrw.dataset.validate import CARD_FILE
    from mrw.toy.video import ToyConfig, toy_scenes

    card = (folder / CARD_FILE).read_text(encoding="utf-8", errors="replace")
    match = re.search(r"mrw\.toy\.video.*?```json\n(\{.*?\})\n```", card, re.S)
    if not match:
        return None
    settings = json.loads(match.group(1))
    config = ToyConfig(**{k: v for k, v in settings.items() if k in ("num_pairs", "seed", "size")})
    index = {}
    for pair_id in pair_ids:
        parts = pair_id.rsplit("-", 1)
        if parts[0] == f"toy-{split}" and parts[-1].isdigit():
            index[int(parts[-1])] = pair_id
    if not index:
        return None
    kinds = {}
    for i, (scene, _, _) in enumerate(toy_scenes(config, split, max(index) + 1)):
        if i in index:
            kinds[index[i]] = scene.moments[scene.target].kind
    return kinds


def attention(run: Run, pairs: list[int]) -> tuple[dict[int, dict[str, Any]], str | None]:
    """PIE-Net's attention of the winning heads for ground-truth pairs `pairs` (sentence
    indices): {pair: {"frames": [T] levels of the video head, "words": [(word, level)] of the
    text head}}, and why there is none (not PVSE with K >= 1, or the model cannot be rebuilt)."""
    import torch

    from mrw.bench.heads import attention_maps, load_trained
    from mrw.core.text import tokenize

    config = run.record.config
    if config.get("method") != "pvse" or not config.get("method_config", {}).get("k"):
        return {}, f"{run.record.method} exposes no attention (PVSE with K >= 1 does)"
    try:
        model, data, _ = load_trained(run.path, run.record.split)
    except MRWError as exc:
        return {}, f"attention not shown: {exc}"
    if [r["query_id"] for r in run.rows["t2v"]] != data.split.pair_ids:
        return {}, "attention not shown: the cached features no longer match the run's split"
    t2v = run.rows["t2v"]
    out: dict[int, dict[str, Any]] = {}
    if not pairs:
        return out, None
    with torch.no_grad():
        maps = attention_maps(model, data.batch(torch.tensor(pairs)))
    for i, pair in enumerate(pairs):
        k_video, k_text = t2v[pair]["k_item"], t2v[pair]["k_query"]
        frames = maps["video"][i, k_video, : int(data.split.lengths[data.split.pair_video[pair]])]
        words = tokenize(data.split.sentences[pair])
        text = maps["text"][i, k_text, : len(words)] if words else maps["text"][i, k_text, :0]
        out[pair] = {
            "frames": _levels(frames.tolist()),
            "words": list(zip(words, _levels(text.tolist()), strict=False)),
        }
    return out, None


def _levels(weights: list[float]) -> list[int]:
    """Attention weights as intensity classes 0..LEVELS-1, relative to the row's maximum."""
    top = max(weights, default=0.0) or 1.0
    return [min(LEVELS - 1, int(LEVELS * w / top)) for w in weights]


def plots(run: Run, against: Run | None) -> dict[str, str]:
    """PNG data URIs (matplotlib): head usage per side, and the rank distribution per
    direction (with `against`'s for comparison)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    summary = run.record.set_aware
    if summary is not None:
        fig, axes = plt.subplots(1, 2, figsize=(6, 2.4), dpi=80)
        for ax, side in zip(axes, ("video", "text"), strict=True):
            usage = summary.head_usage[side]
            counts = usage["counts"]
            ax.bar(range(len(counts)), counts, color="#2456c9")
            ratio = usage["entropy_ratio"]
            extra = f", H/log K = {ratio:.2f}" if ratio is not None else ""
            ax.set_title(f"{side} head wins{extra}", fontsize=9)
            ax.set_xticks(range(len(counts)))
            ax.set_xlabel("head k", fontsize=8)
        fig.tight_layout()
        out["usage"] = _png(fig)
    fig, axes = plt.subplots(1, 2, figsize=(6, 2.4), dpi=80)
    for ax, direction in zip(axes, ("t2v", "v2t"), strict=True):
        for which, color in ((run, "#2456c9"), (against, "#c94a24")):
            if which is None:
                continue
            ranks = np.array([r["rank"] for r in which.rows[direction] if r["rank"] > 0])
            if len(ranks):
                bins = np.logspace(0, math.log10(max(ranks.max(), 2)) + 0.01, 20)
                ax.hist(ranks, bins=bins, alpha=0.6, color=color, label=which.label)
        ax.set_xscale("log")
        ax.set_title(f"{direction}: rank of the first relevant item", fontsize=9)
        if against is not None:
            ax.legend(fontsize=7)
    fig.tight_layout()
    out["ranks"] = _png(fig)
    plt.close("all")
    return out


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@dataclass
class Page:
    """What the template renders (every string is escaped by the template)."""

    title: str
    facts: list[tuple[str, str]]
    notes: list[str]
    plots: dict[str, str]
    cards: list[dict[str, Any]] = field(default_factory=list)
    lists: list[dict[str, Any]] = field(default_factory=list)
    diffs: list[dict[str, Any]] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    # side -> kind -> wins per head, over every ground-truth pair (toy sets only)
    kind_wins: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    thumbs: dict[str, str] = field(default_factory=dict)


def build_page(
    run_dir: str | Path, against_dir: str | Path | None, caps: Caps = Caps()
) -> tuple[str, Page]:
    """The explorer's HTML for a run (and the diff against another run of the same split), and
    the `Page` it renders.

    Raises:
        ExploreError: a folder that is no finished run with a per-query table, or two runs
            of different datasets, splits or protocol cards (the message names the fields).
    """
    run = load_run(run_dir)
    against = load_run(against_dir) if against_dir is not None else None
    record = run.record
    if against is not None and (against.record.dataset, against.record.split) != (
        record.dataset,
        record.split,
    ):
        raise ExploreError("--against: the two runs must be of the same dataset and split")
    if against is not None and record.protocol_card and against.record.protocol_card:
        try:
            require_one_card(
                {"the run": record.protocol_card, "--against": against.record.protocol_card}
            )
        except ProtocolCardError as exc:
            raise ExploreError(f"--against: {exc}") from None
    t2v, v2t = run.rows["t2v"], run.rows["v2t"]
    sentences = [r["text"] or "" for r in t2v]
    video_ids = [r["query_id"] for r in v2t]
    notes: list[str] = []
    shown = {d: pick_queries(run.rows[d], caps.queries) for d in ("t2v", "v2t")}

    options = record.config.get("options", {})
    folder = dataset_folder(record.dataset)
    kinds: dict[str, str] | None = None
    thumbs: dict[str, str] = {}
    if folder is None:
        notes.append("no thumbnails: the dataset is not on this machine (ids shown instead)")
    else:
        needed = _videos_needed(shown, t2v)
        thumbs = thumbnails(
            folder, record.split, [video_ids[v] for v in needed], caps,
            int(options.get("num_frames") or 8), options.get("fps"),
        )  # fmt: skip
        kinds = toy_kinds(folder, record.split, [r["query_id"] for r in t2v])
    # The attention of each shown query's winning ground-truth pair.
    pairs = sorted({_gt_pair(row, d) for d, rows in shown.items() for row in rows} - {-1})
    maps, why = attention(run, pairs)
    if why:
        notes.append(why)
    set_aware = record.set_aware
    facts = [
        ("method", run.label),
        ("dataset / split", f"{Path(record.dataset).name} / {record.split}"),
        ("protocol card", record.protocol_card.summary() if record.protocol_card else NO_CARD),
        ("rsum", f"{record.metrics.rsum:.1f}"),
    ] + [
        (f"{d} R@1 / R@5 / R@10", " / ".join(f"{v:.1f}" for v in m.recall.values()))
        for d, m in (("t2v", record.metrics.t2v), ("v2t", record.metrics.v2t))
    ]
    if set_aware is not None and set_aware.margin["mean"] is not None:
        facts.append(("mean winning margin", f"{set_aware.margin['mean']:.3f}"))
    if set_aware is not None and set_aware.head_recall:
        facts.append(
            ("rsum with one head kept", ", ".join(
                f"k={k}: {doc['rsum']:.1f}" for k, doc in enumerate(set_aware.head_recall)
            ))
        )  # fmt: skip
    page = Page(
        title=f"{run.label} on {Path(record.dataset).name}/{record.split}",
        facts=facts,
        notes=notes,
        plots=plots(run, against),
        kinds=sorted(set(kinds.values())) if kinds else [],
    )
    if kinds and set_aware is not None:
        page.kind_wins = head_wins_by_kind(t2v, kinds, set_aware.k)
    thumb_keys = {vid: f"t{i}" for i, vid in enumerate(thumbs)}
    page.thumbs = {thumb_keys[vid]: uri for vid, uri in thumbs.items()}

    def video(v: int, rank: int | None = None, strip: list[int] | None = None) -> dict[str, Any]:
        vid = video_ids[v]
        return {"id": vid, "thumb": thumb_keys.get(vid), "rank": rank, "strip": strip}

    for direction in ("t2v", "v2t"):
        for row in shown[direction]:
            pair = _gt_pair(row, direction)
            att = maps.get(pair, {})
            kind = kinds.get(t2v[pair]["query_id"]) if kinds and pair >= 0 else None
            relevant = dict(zip(row["relevant"], row["relevant_ranks"], strict=True))
            card: dict[str, Any] = {
                "anchor": f"{direction}-{row['query']}",
                "direction": direction,
                "correct": row["rank"] == 1,
                "rank": row["rank"],
                "kind": kind or "",
                "heads": (row["k_query"], row["k_item"]),
                "margin": None if row["margin"] is None else f"{row['margin']:.3f}",
                "query_id": row["query_id"],
            }
            if direction == "t2v":
                card["sentence"] = sentences[row["query"]]
                card["words"] = att.get("words")
                card["retrieved"] = [
                    video(v, relevant.get(v), att.get("frames") if v in relevant else None)
                    for v in row["top"][:SHOWN_ITEMS]
                ]
                card["missing"] = [
                    video(v, r, att.get("frames")) for v, r in relevant.items() if r > SHOWN_ITEMS
                ]
                card["search"] = f"{row['query_id']} {sentences[row['query']]}".lower()
            else:
                card["video"] = video(row["query"], None, att.get("frames"))
                card["retrieved"] = [
                    {"text": sentences[j], "rank": relevant.get(j), "id": t2v[j]["query_id"]}
                    for j in row["top"][:SHOWN_ITEMS]
                ]
                card["missing"] = [
                    {"text": sentences[j], "rank": r, "id": t2v[j]["query_id"]}
                    for j, r in relevant.items()
                    if r > SHOWN_ITEMS
                ][:3]
                card["words"] = att.get("words")
                card["search"] = " ".join(
                    [row["query_id"], *(sentences[j] for j in relevant)]
                ).lower()
            page.cards.append(card)
    for direction in ("t2v", "v2t"):
        found = [r for r in run.rows[direction] if r["rank"] > 0]
        found.sort(key=lambda r: (r["rank"], r["query"]))
        for name, rows in (("best", found[: caps.listed]), ("worst", found[::-1][: caps.listed])):
            page.lists.append({
                "title": f"{name} {direction} queries",
                "rows": [_list_row(r, direction, sentences) for r in rows],
            })  # fmt: skip
    if against is not None:
        page.diffs = _diffs(run, against, sentences, caps)
    page.notes.append("bounded: " + caps.describe())
    return render(page), page


def head_wins_by_kind(
    t2v: list[dict[str, Any]], kinds: dict[str, str], k: dict[str, int]
) -> dict[str, dict[str, list[int]]]:
    """Per side ("video": `k_item`, "text": `k_query`), per kind of moment the sentence names,
    how often each head wins over the ground-truth pairs (the t2v rows): whether heads
    specialise by kind, PVSE's claim on the toy set."""
    out: dict[str, dict[str, list[int]]] = {}
    for side, column in (("video", "k_item"), ("text", "k_query")):
        table: dict[str, list[int]] = {}
        for row in t2v:
            kind = kinds.get(row["query_id"])
            if kind is not None and 0 <= row[column] < k[side]:
                table.setdefault(kind, [0] * k[side])[row[column]] += 1
        out[side] = dict(sorted(table.items()))
    return out


def _gt_pair(row: dict[str, Any], direction: str) -> int:
    """The sentence index of the best-ranked ground-truth pair of a query row (-1: none)."""
    if direction == "t2v":
        return int(row["query"])
    ranked = sorted(zip(row["relevant_ranks"], row["relevant"], strict=True))
    return int(ranked[0][1]) if ranked else -1


def _videos_needed(shown: dict[str, list[dict[str, Any]]], t2v: list[dict[str, Any]]) -> list[int]:
    """Video indices the cards show, in order of first appearance (the thumbnail cap keeps the
    first)."""
    needed: dict[int, None] = {}
    for row in shown["v2t"]:
        needed[row["query"]] = None
    for row in shown["t2v"]:
        for v in [*row["top"][:SHOWN_ITEMS], *row["relevant"]]:
            needed[v] = None
    return list(needed)


def _list_row(row: dict[str, Any], direction: str, sentences: list[str]) -> dict[str, Any]:
    text = sentences[row["query"]] if direction == "t2v" else row["query_id"]
    return {"anchor": f"{direction}-{row['query']}", "rank": row["rank"], "text": text}


def _diffs(run: Run, against: Run, sentences: list[str], caps: Caps) -> list[dict[str, Any]]:
    """Per direction, the queries correct at R@1 in one run and not in the other."""
    out = []
    for direction in ("t2v", "v2t"):
        theirs = {r["query_id"]: r["rank"] for r in against.rows[direction]}
        fixed, broken = [], []
        for row in run.rows[direction]:
            other = theirs.get(row["query_id"])
            if other is None or row["rank"] <= 0 or other <= 0:
                continue
            entry = {**_list_row(row, direction, sentences), "theirs": other}
            if row["rank"] == 1 and other > 1:
                fixed.append(entry)
            elif row["rank"] > 1 and other == 1:
                broken.append(entry)
        for name, rows in (("fixed", fixed), ("broken", broken)):
            rows.sort(key=lambda e: -abs(e["rank"] - e["theirs"]))
            out.append({
                "title": f"{direction} queries {name} ({len(rows)}; "
                f"R@1 here vs {against.label} in {against.path.name})",
                "rows": rows[: caps.listed],
            })  # fmt: skip
    return out


STYLE = """
:root { --ink: #1d2330; --muted: #6b7385; --line: #e3e6ec; --accent: #2456c9; --ok: #14632d;
  --bad: #a3261b; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, sans-serif; color: var(--ink); background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 16px 24px; }
h1 { margin: 0; font-size: 20px; overflow-wrap: anywhere; }
h2 { font-size: 15px; margin: 0 0 8px; }
main { padding: 16px 24px; max-width: 1280px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px;
  margin-bottom: 16px; overflow-x: auto; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 20px; margin: 6px 0 0; padding: 0; }
.facts div { list-style: none; } .facts dt { color: var(--muted); font-size: 12px; }
.facts dd { margin: 0; font-weight: 600; }
.note { color: var(--muted); font-size: 12px; margin: 2px 0; }
.plots img { max-width: 100%; height: auto; }
.lists { display: grid; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); gap: 12px; }
.lists ol { margin: 0; padding-left: 20px; font-size: 13px; }
.lists li { overflow-wrap: anywhere; }
.wins { border-collapse: collapse; font-size: 13px; }
.wins th, .wins td { padding: 2px 8px; text-align: right; border-bottom: 1px solid var(--line); }
.controls { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; }
.controls input { min-width: 0; flex: 1 1 160px; padding: 4px 6px; }
.card { border-top: 1px solid var(--line); padding: 10px 0; }
.card.hidden { display: none; }
.q { font-weight: 600; overflow-wrap: anywhere; }
.meta { color: var(--muted); font-size: 12px; }
.ok { color: var(--ok); } .bad { color: var(--bad); }
.items { display: flex; flex-wrap: wrap; gap: 8px; margin-top: 6px; }
.item { width: 60px; font-size: 11px; text-align: center; overflow-wrap: anywhere; }
.item img, .qvideo img { width: 48px; height: 48px; display: block; margin: 0 auto;
  background: #dde; }
.item.gt { outline: 2px solid var(--ok); outline-offset: 1px; }
.sentences { margin: 6px 0 0; padding-left: 20px; font-size: 13px; }
.sentences li { overflow-wrap: anywhere; } .sentences li.gt { color: var(--ok); font-weight: 600; }
.strip { display: flex; height: 6px; width: 48px; margin: 2px auto 0; }
.strip span { flex: 1; }
.a0 { background: #eef1f8; } .a1 { background: #d6def2; } .a2 { background: #bccaeb; }
.a3 { background: #a1b5e3; } .a4 { background: #86a0dc; } .a5 { background: #6a8ad4; }
.a6 { background: #4e74cc; } .a7 { background: #2456c9; }
.words span { padding: 0 1px; border-radius: 2px; color: var(--ink); }
.words span.a5, .words span.a6, .words span.a7 { color: #fff; }
.pager { display: flex; gap: 8px; align-items: center; margin-top: 8px; }
@media (max-width: 600px) { main, header { padding: 10px; } .item { width: 52px; } }
"""

SCRIPT = """
(function () {
  var thumbs = JSON.parse(document.getElementById("thumbs").textContent);
  var cards = Array.prototype.slice.call(document.querySelectorAll(".card"));
  var size = 20, page = 0;
  var search = document.getElementById("search"), dir = document.getElementById("dir");
  var correct = document.getElementById("correct"), kind = document.getElementById("kind");
  var status = document.getElementById("status");
  function matches(card) {
    var s = search.value.toLowerCase();
    if (s && card.getAttribute("data-search").indexOf(s) < 0) { return false; }
    if (dir.value && card.getAttribute("data-dir") !== dir.value) { return false; }
    if (correct.value && card.getAttribute("data-correct") !== correct.value) { return false; }
    if (kind && kind.value && card.getAttribute("data-kind") !== kind.value) { return false; }
    return true;
  }
  function show() {
    var hits = cards.filter(matches), pages = Math.max(1, Math.ceil(hits.length / size));
    page = Math.min(page, pages - 1);
    cards.forEach(function (c) { c.classList.add("hidden"); });
    hits.slice(page * size, (page + 1) * size).forEach(function (c) {
      c.classList.remove("hidden");
      c.querySelectorAll("img[data-thumb]").forEach(function (img) {
        var uri = thumbs[img.getAttribute("data-thumb")];
        if (uri && !img.getAttribute("src")) { img.setAttribute("src", uri); }
      });
    });
    status.textContent = hits.length + " queries, page " + (page + 1) + " of " + pages;
  }
  [search, dir, correct, kind].forEach(function (el) {
    if (el) { el.addEventListener("input", function () { page = 0; show(); }); }
  });
  document.getElementById("prev").addEventListener("click", function () {
    page = Math.max(0, page - 1); show();
  });
  document.getElementById("next").addEventListener("click", function () { page += 1; show(); });
  document.querySelectorAll("a[data-card]").forEach(function (a) {
    a.addEventListener("click", function () {
      search.value = a.getAttribute("data-card"); dir.value = ""; correct.value = "";
      if (kind) { kind.value = ""; }
      page = 0; show();
    });
  });
  show();
})();
"""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


CSP = (
    f"default-src 'none'; img-src data:; style-src {_sha256(STYLE)}; "
    f"script-src {_sha256(SCRIPT)}; base-uri 'none'; form-action 'none'"
)

NO_CARD = "none (a run record written before protocol cards)"

# The page's Jinja2 template (autoescaped), shipped beside this module.
TEMPLATE = Path(__file__).with_name("explore.html")


def render(page: Page) -> str:
    """The HTML of `page` (Jinja2, autoescaped; the style and script verbatim, as hashed)."""
    from jinja2 import Environment
    from markupsafe import Markup

    env = Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)
    # JSON inside <script>: "<", ">" and "&" as \\u escapes, so no string can end the element.
    thumbs_json = (
        json.dumps(page.thumbs)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        page=page,
        csp=Markup(CSP),
        style=Markup(STYLE),
        script=Markup(SCRIPT),
        thumbs_json=Markup(thumbs_json),
    )


def write_page(
    run_dir: str | Path, out_dir: str | Path, against: str | Path | None = None, caps: Caps = Caps()
) -> Path:
    """Write `index.html` into `out_dir` (atomically), and each plot embedded in it as
    `{name}.png` beside it (`usage.png`, `ranks.png`), for use elsewhere; returns the page."""
    from mrw.core.atomic import atomic_write

    html_text, page = build_page(run_dir, against, caps)
    out = Path(out_dir)
    for name, uri in page.plots.items():
        with atomic_write(out / f"{name}.png", "wb") as handle:
            handle.write(base64.b64decode(uri.split(",", 1)[1]))
    with atomic_write(out / "index.html", "w") as handle:
        handle.write(html_text)
    return out / "index.html"
