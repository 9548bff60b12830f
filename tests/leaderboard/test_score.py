"""Scoring agrees exactly with pytrec_eval (ties included) and ranx; truncation and misses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from leaderboard.errors import RunFileError
from leaderboard.metrics import Bound, interval
from leaderboard.parse import parse_run
from leaderboard.qrels import read_qrels, write_qrels
from leaderboard.score import first_relevant_ranks, score_run

pytrec_eval = pytest.importorskip("pytrec_eval")


def _random_case(
    rng: np.random.Generator, tmp_path: Path, *, ties: bool, n_queries: int = 40, n_docs: int = 30
) -> tuple[dict, dict, Path, Path]:
    """Qrels with 1-3 relevant docs per query (TGIF-style) covering every doc, and a shuffled
    run with per-query truncation, missing queries and (optionally) many tied scores."""
    qrels: dict[str, dict[str, int]] = {f"q{i}": {} for i in range(n_queries)}
    for d in range(n_docs):  # every gallery item relevant to at least one query
        qrels[f"q{rng.integers(n_queries)}"][f"d{d}"] = 1
    for rels in qrels.values():
        while len(rels) < rng.integers(1, 4):
            rels[f"d{rng.integers(n_docs)}"] = 1
    run: dict[str, dict[str, float]] = {}
    for q in qrels:
        if rng.random() < 0.15:
            continue  # missing query
        depth = n_docs if rng.random() < 0.5 else int(rng.integers(1, n_docs))
        docs = rng.permutation(n_docs)[:depth]
        values = rng.integers(0, 4, depth) / 4 if ties else rng.standard_normal(depth)
        run[q] = {f"d{d}": float(v) for d, v in zip(docs, values, strict=True)}
    qrels_path = tmp_path / "t2v.qrels"
    write_qrels(qrels_path, [(q, d) for q, rels in qrels.items() for d in rels])
    lines = [f"{q} Q0 {d} 0 {s!r} tag\n" for q, docs in run.items() for d, s in docs.items()]
    run_path = tmp_path / "t2v.run"
    run_path.write_text("".join(rng.permutation(lines)))
    return qrels, run, qrels_path, run_path


def _write_grouped(path: Path, run: dict[str, dict[str, float]], ties_reversed: bool) -> None:
    """Each query's lines together in trec_eval's rank order (as run files are written), or
    in score order with tied documents the wrong way round."""
    with path.open("w") as out:
        for q, docs in run.items():
            ranked = _trec_ranked(docs)
            if ties_reversed:
                ranked = sorted(sorted(docs.items()), key=lambda item: -item[1])
            out.writelines(f"{q} Q0 {d} {r} {s!r} t\n" for r, (d, s) in enumerate(ranked, 1))


@pytest.mark.parametrize("layout", ["shuffled", "ranked", "ties reversed"])
@pytest.mark.parametrize("seed", range(6))
def test_ranks_and_recalls_match_pytrec_eval_with_ties(
    tmp_path: Path, seed: int, layout: str, monkeypatch
) -> None:
    """Lines in any order are ranked by counting; a file whose queries' lines are already in
    rank order by their places (`_ranked_blocks`). Both equal trec_eval."""
    from leaderboard.score import _ranked_blocks

    if seed % 2:  # also the large-gallery path: sorted pair keys instead of bitmaps
        monkeypatch.setattr("leaderboard.qrels.BITMAP_MAX_KEYS", 0)
    rng = np.random.default_rng(seed)
    qrels, run, qrels_path, run_path = _random_case(rng, tmp_path, ties=True)
    if layout != "shuffled":
        _write_grouped(run_path, run, ties_reversed=layout == "ties reversed")
    truth = read_qrels(qrels_path)
    parsed = parse_run(run_path, truth)
    assert (_ranked_blocks(parsed, truth.doc_order) is not None) == (layout == "ranked")
    ranking = first_relevant_ranks(parsed, truth)

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank", "success"})
    reference = evaluator.evaluate(run)
    expected = [
        round(1 / reference[q]["recip_rank"])
        if q in reference and reference[q]["recip_rank"]
        else 0
        for q in (truth.query_ids[i] for i in truth.scored_queries)
    ]
    assert ranking.ranks.tolist() == expected
    assert ranking.missing_queries == len(qrels) - len(run)

    metrics = score_run(run_path, truth)
    with pytest.raises(RunFileError, match="already ranked"):  # duplicate check on this path too
        duplicated = tmp_path / "dup.run"
        duplicated.write_bytes(run_path.read_bytes() * 2)
        parse_run(duplicated, truth)
    for k in (1, 5, 10):
        hits = sum(reference[q][f"success_{k}"] for q in reference)
        value = metrics.recall[k]
        assert interval(value)[0] == pytest.approx(100 * hits / len(qrels))
    assert metrics.missing_queries == len(qrels) - len(run)
    assert metrics.queries == len(qrels)


@pytest.mark.slow  # ranx compiles its numba kernels on first use (~10 s)
@pytest.mark.parametrize("seed", range(3))
def test_recalls_match_ranx_hit_rate(tmp_path: Path, seed: int) -> None:
    """ranx breaks ties arbitrarily (unstable argsort), so it is compared on tie-free runs."""
    ranx = pytest.importorskip("ranx")
    rng = np.random.default_rng(100 + seed)
    qrels, run, qrels_path, run_path = _random_case(rng, tmp_path, ties=False)
    metrics = score_run(run_path, read_qrels(qrels_path))
    reference = ranx.evaluate(
        ranx.Qrels(qrels),
        ranx.Run(run),
        ["hit_rate@1", "hit_rate@5", "hit_rate@10"],
        make_comparable=True,
    )
    for k in (1, 5, 10):
        value = interval(metrics.recall[k])[0]
        assert value == pytest.approx(100 * reference[f"hit_rate@{k}"])


def _write_case(
    tmp_path: Path, qrels: list[tuple[str, str]], lines: list[str]
) -> tuple[Path, Path]:
    qrels_path, run_path = tmp_path / "t2v.qrels", tmp_path / "t2v.run"
    write_qrels(qrels_path, qrels)
    run_path.write_text("".join(f"{line}\n" for line in lines))
    return qrels_path, run_path


def test_full_depth_run_is_exact_and_hand_checked(tmp_path: Path) -> None:
    qrels = [("a", "x"), ("b", "y"), ("c", "z")]
    lines = [
        "a Q0 x 1 0.9 t", "a Q0 y 2 0.5 t", "a Q0 z 3 0.1 t",
        "b Q0 x 1 0.7 t", "b Q0 z 2 0.7 t", "b Q0 y 3 0.7 t",  # all tied: z > y > x
        "c Q0 x 1 3 t", "c Q0 y 2 2 t", "c Q0 z 3 1 t",
    ]  # fmt: skip
    qrels_path, run_path = _write_case(tmp_path, qrels, lines)
    m = score_run(run_path, read_qrels(qrels_path))
    assert m.value("R@1") == pytest.approx(100 / 3) and m.value("R@5") == 100.0
    assert (
        m.value("MedR") == 2
        and m.value("MeanR") == pytest.approx(2.0)
        and m.value("nMR") == pytest.approx(2 / 3)
    )
    assert m.value("missing_queries") == 0


def test_truncated_run_reports_bounds(tmp_path: Path) -> None:
    qrels = [(f"q{i}", f"d{i}") for i in range(20)]
    lines = [f"q{i} Q0 d{(i + r) % 20} {r + 1} {10 - r} t" for i in range(12) for r in range(8)]
    qrels_path, run_path = _write_case(tmp_path, qrels, lines)
    m = score_run(run_path, read_qrels(qrels_path))
    assert m.value("R@1") == pytest.approx(60.0)  # 12 of 20 queries at rank 1, 8 missing
    assert m.value("R@10") == Bound(60.0, ">=")  # beyond depth 8: only a lower bound
    assert m.medr == 1 and isinstance(m.meanr, Bound) and m.meanr.kind == ">="
    assert m.value("missing_queries") == 8
    few = [f"q{i} Q0 d{(i + 1) % 20} 1 1 t" for i in range(20)]
    qrels_path, run_path = _write_case(tmp_path, qrels, few)
    assert score_run(run_path, read_qrels(qrels_path)).medr == Bound(1, ">")


@pytest.mark.slow  # imports torch and the harness
def test_harness_metrics_equal_scores_of_its_run_files(tmp_path: Path) -> None:
    """One scoring path: the harness's exact ranks (from the matrix) and the scorer's (from the
    run files written from that matrix) give identical metrics, ties included (TGIF-style)."""
    torch = pytest.importorskip("torch")
    from leaderboard.runfile import write_run
    from leaderboard.score import score_submission
    from mrw.bench.evaluator import evaluate_scores

    n_videos, per_video = 15, 2
    videos = [f"v{i}" for i in range(n_videos)]
    sentences = [f"s{i}" for i in range(n_videos * per_video)]
    pair_video = torch.arange(n_videos).repeat_interleave(per_video)
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 3, (n_videos, len(sentences)), generator=generator).float() / 2
    expected = evaluate_scores(scores, videos, sentences, pair_video).metrics

    truth = tmp_path / "truth"
    write_qrels(
        truth / "t2v.qrels",
        [(s, videos[v]) for s, v in zip(sentences, pair_video.tolist(), strict=True)],
    )
    write_qrels(
        truth / "v2t.qrels",
        [(videos[v], s) for s, v in zip(sentences, pair_video.tolist(), strict=True)],
    )
    write_run(tmp_path / "t2v.run.gz", sentences, videos, scores.T, "h")
    write_run(tmp_path / "v2t.run.gz", videos, sentences, scores, "h")
    assert score_submission(truth, tmp_path / "t2v.run.gz", tmp_path / "v2t.run.gz") == expected


def _trec_ranked(docs: dict[str, float]) -> list[tuple[str, float]]:
    """trec_eval's order: score descending, then document id descending (as bytes)."""
    by_id = sorted(docs.items(), key=lambda item: item[0].encode(), reverse=True)
    return sorted(by_id, key=lambda item: -item[1])  # stable: ties keep the id order


def _ranked_lists(run: dict[str, dict[str, float]], truth) -> bytes:
    """Brute force: every query (qrels order) with its documents as trec_eval ranks them."""
    import hashlib

    query_index = {q: i for i, q in enumerate(truth.query_ids)}
    doc_index = {d: i for i, d in enumerate(truth.doc_ids)}
    pairs = []
    for q in sorted(run, key=query_index.__getitem__):
        ranked = _trec_ranked(run[q])
        pairs += [(query_index[q], doc_index[d]) for d, _ in ranked]
    query = np.array([p[0] for p in pairs], dtype="<i4")
    doc = np.array([p[1] for p in pairs], dtype="<i4")
    return hashlib.sha256(query.tobytes() + doc.tobytes()).digest()


@pytest.mark.parametrize("seed", range(4))
def test_ranking_fingerprint_is_the_ranked_lists_however_the_file_is_written(
    tmp_path: Path, seed: int
) -> None:
    from leaderboard.score import ranking_fingerprint

    rng = np.random.default_rng(seed)
    _, run, qrels_path, shuffled = _random_case(rng, tmp_path, ties=True)
    truth = read_qrels(qrels_path)
    expected = _ranked_lists(run, truth)
    assert ranking_fingerprint(parse_run(shuffled, truth), truth) == expected  # sorting path
    # Written as a run file usually is: each query's lines together, in rank order (the O(n)
    # path), with queries in another order, other spacing, scores and run tag.
    grouped = tmp_path / "grouped.run"
    with grouped.open("w") as out:
        for q in rng.permutation(list(run)):
            ranked = _trec_ranked(run[q])
            for rank, (d, s) in enumerate(ranked, start=1):
                out.write(f"{q}\tQ0  {d} {rank} {3 * s - 7!r} other\n")
    assert ranking_fingerprint(parse_run(grouped, truth), truth) == expected
    # Two documents of one query trading places is another ranking.
    q = next(q for q in run if len(set(run[q].values())) > 1)
    (hi, _), (lo, _) = sorted(run[q].items(), key=lambda item: -item[1])[:: len(run[q]) - 1]
    run[q][hi], run[q][lo] = run[q][lo], run[q][hi]
    swapped = tmp_path / "swapped.run"
    swapped.write_text("".join(f"{q} Q0 {d} 0 {s!r} t\n" for q in run for d, s in run[q].items()))
    assert ranking_fingerprint(parse_run(swapped, truth), truth) != expected


@pytest.mark.parametrize(
    ("score_a", "score_b"),
    [
        ("1.0000001192092896", "1"),  # 1 + 2**-23: apart in float32
        ("1.0000000596046448", "1"),  # 1 + 2**-24: one float32
        ("0.30000001", "0.3"),  # one float32
        ("1e40", "1e39"),  # both beyond float32's range: infinite, tied
        ("3.4e38", "3.5e38"),  # finite, and beyond the range
        ("1e-46", "0"),  # below float32's smallest subnormal: zero, tied
        ("-1e-46", "0"),  # -0.0 and 0.0: tied
    ],
)
def test_scores_compare_as_trec_eval_floats(tmp_path: Path, score_a: str, score_b: str) -> None:
    """trec_eval keeps scores as C floats: texts one float32 apart are ties (broken by the
    larger document id, "b"), as pytrec_eval ranks them; the fingerprint follows."""
    from leaderboard.score import ranking_fingerprint

    qrels_path = tmp_path / "t2v.qrels"
    qrels_path.write_text("q 0 a 1\nq 0 b 0\n")
    qrels = read_qrels(qrels_path)

    def parsed(name: str, a: str, b: str):
        path = tmp_path / name
        path.write_text(f"q Q0 a 1 {a} t\nq Q0 b 2 {b} t\n")
        return parse_run(path, qrels)

    run = parsed("t2v.run", score_a, score_b)
    theirs = pytrec_eval.RelevanceEvaluator({"q": {"a": 1, "b": 0}}, {"recip_rank"}).evaluate(
        {"q": {"a": float(score_a), "b": float(score_b)}}
    )
    assert first_relevant_ranks(run, qrels).ranks.tolist() == [round(1 / theirs["q"]["recip_rank"])]
    with np.errstate(over="ignore"):
        a32, b32 = (repr(float(np.float32(float(x)))) for x in (score_a, score_b))
    if "inf" in a32 + b32:  # the same ranking written with finite texts
        a, b = float(a32), float(b32)
        a32, b32 = ("1", "1") if a == b else (("1", "0") if a > b else ("0", "1"))
    written_as_float32 = parsed("f32.run", a32, b32)
    assert ranking_fingerprint(written_as_float32, qrels) == ranking_fingerprint(run, qrels)
