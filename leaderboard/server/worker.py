"""The scoring workers: threads that claim queued submissions and score them one by one.

A submission is claimed in the database (`store.claim_next`), which never hands out a second
submission of a team while one of its submissions is being scored; each worker thread scores
one submission at a time, so memory is bounded by `threads` scorings. Numpy and Arrow release
the GIL, so the HTTP event loop keeps answering while a worker scores.
"""

from __future__ import annotations

import logging
import shutil
import threading
from importlib import metadata
from pathlib import Path

from leaderboard.server import store
from leaderboard.server.db import Database
from leaderboard.server.scoring import Outcome, score_stored
from leaderboard.server.truth import Truth

log = logging.getLogger("leaderboard.server")
IDLE_POLL_S = 2.0  # also picks up work queued by another process sharing the database


def scorer_version() -> str:
    """The installed `mrw-toolkit` version recorded with each score, or "unknown"."""
    try:
        return metadata.version("mrw-toolkit")
    except metadata.PackageNotFoundError:
        return "unknown"


class Workers:
    """`threads` scoring threads; `wake()` after queueing, `stop()` to end them."""

    def __init__(
        self,
        db: Database,
        truth: Truth,
        storage: Path,
        limits: store.Limits,
        threads: int = 1,
        discard_uploads: bool = False,
    ) -> None:
        self.db, self.truth, self.storage, self.limits = db, truth, storage, limits
        self.discard_uploads = discard_uploads
        self._wake = threading.Condition()
        self._pending = 0
        self._stopping = False
        self._threads = [
            threading.Thread(target=self._loop, name=f"scorer-{i}", daemon=True)
            for i in range(max(1, threads))
        ]
        self._version = scorer_version()

    def start(self) -> None:
        """Start the scoring threads."""
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Tell the workers there may be something to claim."""
        with self._wake:
            self._pending += 1
            self._wake.notify_all()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the scorings in progress (a killed server re-queues them on restart)."""
        with self._wake:
            self._stopping = True
            self._wake.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._wake:
                if self._stopping:
                    return
                self._pending = 0
            try:
                claimed = store.claim_next(self.db)
                if claimed is not None:
                    self._score(*claimed)
            except Exception:  # e.g. the database unreachable: keep the worker, retry later
                log.exception("scoring worker: database error")
                claimed = None
            if claimed is None:
                with self._wake:
                    if not self._pending and not self._stopping:
                        self._wake.wait(IDLE_POLL_S)
                continue
            self.wake()  # finishing may unblock the same team's next submission

    def _score(self, submission_id: int, split_name: str) -> None:
        folder = self.storage / str(submission_id)
        try:
            outcome = score_stored(folder, self.truth.splits[split_name], self.limits.max_run_bytes)
        except Exception:  # a bug must not kill the worker; the team sees a neutral reason
            log.exception("scoring submission %d failed", submission_id)
            outcome = Outcome(reason="internal error while scoring; the organisers were notified")
        store.record(self.db, submission_id, outcome, self._version)
        if self.discard_uploads:  # the SHA-256s stay in the database: duplicates still refused
            shutil.rmtree(folder, ignore_errors=True)
        log.info("submission %d %s", submission_id, "scored" if outcome.metrics else "failed")
