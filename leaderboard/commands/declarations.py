"""What a harness run folder declares about its run pair, for `submit` and `baseline add`:
training data, code commit, checkpoint SHA-256 and protocol card (read from the run record,
`checkpoint.pt` and the `protocol.json` sidecar)."""

from __future__ import annotations

from pathlib import Path

from leaderboard.errors import LeaderboardError
from leaderboard.server.client import card_field
from mrw.core.protocol import CARD_FILE, ProtocolCardError, read_card_file
from mrw.core.provenance import file_sha256

CHECKPOINT = "checkpoint.pt"


def from_run_folder(folder: Path, card: bool = True) -> tuple[dict[str, str], list[str]]:
    """The declarations of the harness run in `folder` (empty when it holds no run record).

    Args:
        folder: a run folder of `mrw-bench run` (with `metrics.json`), or any other folder.
        card: also read its `protocol.json` (False when the caller reads the card itself).

    Returns:
        (fields, notes): `training_data`, `code_commit` (only a clean checkout's commit: one
        marked "-dirty" does not name the code that ran, and a note says so),
        `checkpoint_sha256` (of `checkpoint.pt`, when present) and `protocol_card` (the
        sidecar's JSON, when present); notes are one line each, for the user.

    Raises:
        LeaderboardError: an unreadable protocol card (a `metrics.json` that is not a run
            record only adds a note: the files may sit beside someone else's record).
    """
    from mrw.bench.record import RECORD_FILE, RunRecord, RunRecordError

    fields: dict[str, str] = {}
    notes: list[str] = []
    record = None
    if (folder / RECORD_FILE).is_file():
        try:
            record = RunRecord.from_disk(folder)
        except RunRecordError as exc:  # not the harness's record: nothing declared from it
            notes.append(f"{exc}; nothing declared from it")
    if record is not None:
        if record.training_data:
            fields["training_data"] = record.training_data
        commit = record.git_commit or ""
        if commit.endswith("-dirty"):
            notes.append(f"{folder}: the run's code had uncommitted changes; no commit declared")
        elif commit:
            fields["code_commit"] = commit
        if (folder / CHECKPOINT).is_file():
            fields["checkpoint_sha256"] = file_sha256(folder / CHECKPOINT)
    sidecar = folder / CARD_FILE
    if card and sidecar.is_file():
        try:
            fields["protocol_card"] = card_field(read_card_file(sidecar))
        except ProtocolCardError as exc:
            raise LeaderboardError(str(exc)) from None
    return fields, notes
