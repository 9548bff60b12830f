"""The board's leader test on a test phase's public and private boards uses only that part."""

from __future__ import annotations

import numpy as np

from leaderboard.board import Submission as Record
from leaderboard.metrics import combine, ranks_to_metrics
from leaderboard.server import query_ranks, standings
from leaderboard.significance import pair_test, query_shares
from mrw.core.protocol import ProtocolCard

N = 40  # pairs: sentence i describes video i


def _loaded(
    submission_id: int, t2v: np.ndarray, v2t: np.ndarray, label: str, part: str | None
) -> standings.Loaded:
    metrics = combine(ranks_to_metrics(t2v, N), ranks_to_metrics(v2t, N))
    record = Record(
        submission_id, f"m{submission_id}", f"team{submission_id}", "", "toy", label, "",
        "a" * 64, "b" * 64, "c" * 64, metrics, "test",
    )  # fmt: skip
    row = standings.Row(**{name: getattr(record, name) for name in record.__dataclass_fields__})
    blob = query_ranks.pack(t2v, v2t, np.arange(N))
    card = ProtocolCard(dataset="toy", split="test", truth_sha256="c" * 64)
    return standings.Loaded(row, card, True, f"{submission_id:064x}", blob, part)


def _ranks(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return rng.integers(1, 20, N), rng.integers(1, 20, N)


def _leader_test(table: standings.Table) -> standings.PairTest:
    (test,) = [row.leader_test for row in table.rows if not row.is_leader]
    assert test is not None
    return test


def test_public_board_tests_on_public_queries_only_and_ignores_private_ranks() -> None:
    rng = np.random.default_rng(0)
    masks = {"t2v": rng.random(N) < 0.5, "v2t": rng.random(N) < 0.5}  # True: private
    perfect = np.ones(N, dtype=np.int64)
    leader = _loaded(1, perfect, perfect, "test (public)", "public")
    t2v, v2t = _ranks(rng)
    (entry,) = standings.build(
        [leader, _loaded(2, t2v, v2t, "test (public)", "public")], masks
    ).tables
    table = entry[0]
    assert table.split == "test (public)" and table.rows[0].id == 1

    def public_shares(t2v: np.ndarray, v2t: np.ndarray) -> np.ndarray:
        kept = (query_shares(t2v[~masks["t2v"]]), query_shares(v2t[~masks["v2t"]]))
        return np.concatenate(kept)

    expected = pair_test(public_shares(t2v, v2t), public_shares(perfect, perfect))
    got = _leader_test(table)
    assert (got.p, got.rsum_diff, got.ci) == (expected.p, expected.rsum_diff, expected.ci)
    assert got.pairs == int((~masks["t2v"]).sum() + (~masks["v2t"]).sum())

    # The same submission with other ranks on private queries only: the same public test.
    moved = _loaded(3, np.where(masks["t2v"], 1, t2v), np.where(masks["v2t"], 1, v2t),
                    "test (public)", "public")  # fmt: skip
    (entry,) = standings.build([leader, moved], masks).tables
    again = _leader_test(entry[0])
    assert (again.p, again.rsum_diff, again.ci) == (got.p, got.rsum_diff, got.ci)


def test_a_board_of_all_queries_tests_on_pairs() -> None:
    rng = np.random.default_rng(1)
    (a_t2v, a_v2t), (b_t2v, b_v2t) = _ranks(rng), _ranks(rng)
    rows = [_loaded(11, a_t2v, a_v2t, "test", None), _loaded(12, b_t2v, b_v2t, "test", None)]
    masks = {"t2v": np.ones(N, bool), "v2t": np.ones(N, bool)}
    (entry,) = standings.build(rows, masks).tables
    table = entry[0]
    got = _leader_test(table)
    assert got.pairs == N  # one observation per pair, whatever the masks
