"""The scoring workers: threads that claim queued submissions and score them one by one.

A submission is claimed in the database (`store.claim_next`), which never hands out a second
submission of a team while one of its submissions is being scored; each worker thread scores
one submission at a time, so memory is bounded by `threads` scorings. Numpy and Arrow release
the GIL, so the HTTP event loop keeps answering while a worker scores.

No error leaves a claim behind: recording an outcome is tried `RECORD_TRIES` times (SQLite's
write lock held past `busy_timeout`, a dropped PostgreSQL connection); after that, or when a
claim's answer is lost, the claim is given back (`store.release_claims`: re-queued, or failed
after `store.MAX_ATTEMPTS` claims), retried every loop until the database answers again.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from importlib import metadata
from pathlib import Path

from leaderboard.server import standings, store
from leaderboard.server.db import Database
from leaderboard.server.phases import private_parts
from leaderboard.server.scoring import Outcome, score_stored
from leaderboard.server.truth import Truth

log = logging.getLogger("leaderboard.server")
IDLE_POLL_S = 2.0  # also picks up work queued by another process sharing the database
RECORD_TRIES = 3  # tries to record one outcome before its claim is given back
RECORD_BACKOFF_S = 0.5  # wait before the second try; doubled for each further try


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
        self._claims = threading.Lock()  # claiming and releasing orphaned claims exclude each other
        self._held: set[int] = set()  # ids being scored by these threads
        self._orphans = False  # a claim may have been left behind: release it before claiming
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
            claimed = self._claim()
            if claimed is not None:
                try:
                    self._score(*claimed)
                finally:
                    with self._claims:
                        self._held.discard(claimed[0])
            if claimed is None or self._orphans:
                with self._wake:
                    if not self._pending and not self._stopping:
                        self._wake.wait(IDLE_POLL_S)
                if claimed is None:
                    continue
            self.wake()  # finishing may unblock the same team's next submission

    def _claim(self) -> tuple[int, str] | None:
        """Release orphaned claims if any may exist, then claim the next submission (or None,
        also when the database fails: the error is logged and the loop tries again later)."""
        with self._claims:
            try:
                if self._orphans:
                    released = store.release_claims(self.db, self._held)
                    self._orphans = False
                    for submission_id in released.requeued:
                        log.warning("submission %d re-queued after an error", submission_id)
                    for submission_id in released.failed:
                        log.error("submission %d failed: claimed %d times", submission_id,
                                  store.MAX_ATTEMPTS)  # fmt: skip
                claimed = store.claim_next(self.db)
            except Exception as exc:  # unreachable, or a claim committed but its answer lost
                log.error("scoring worker: database error: %s", _one_line(exc))
                self._orphans = True
                return None
            if claimed is not None:
                self._held.add(claimed[0])
            return claimed

    def _score(self, submission_id: int, split_name: str) -> None:
        folder = self.storage / str(submission_id)
        split = self.truth.splits.get(split_name)
        try:
            private = None if split is None else private_parts(self.db, submission_id, split)
        except Exception as exc:  # the database: give the claim back, as when recording fails
            log.error("submission %d: reading its phase failed: %s", submission_id, _one_line(exc))
            with self._claims:
                self._orphans = True
            return
        try:
            outcome = score_stored(
                folder, self.truth.splits[split_name], self.limits.max_run_bytes, private
            )
        except Exception:  # a bug must not kill the worker; the team sees a neutral reason
            log.exception("scoring submission %d failed", submission_id)
            outcome = Outcome(reason="internal error while scoring; the organisers were notified")
        if not self._record(submission_id, outcome):
            with self._claims:
                self._orphans = True  # given back by the next claim, once the database answers
            return
        if self.discard_uploads:  # the SHA-256s stay in the database: duplicates still refused
            shutil.rmtree(folder, ignore_errors=True)
        log.info("submission %d %s", submission_id, "scored" if outcome.metrics else "failed")
        if outcome.metrics is not None:
            try:  # the board's next request finds the tests against the leader computed
                standings.warm(self.db, self.truth)
            except Exception as exc:  # a cache; the board computes what is missing itself
                log.warning("warming the board's tests failed: %s", _one_line(exc))

    def _record(self, submission_id: int, outcome: Outcome) -> bool:
        """`store.record`, tried `RECORD_TRIES` times with a doubling wait; False if all
        failed (any error: the database is the only thing it touches)."""
        for attempt in range(RECORD_TRIES):
            try:
                store.record(self.db, submission_id, outcome, self._version)
                return True
            except Exception as exc:
                log.error(
                    "submission %d: recording the outcome failed (try %d of %d): %s",
                    submission_id, attempt + 1, RECORD_TRIES, _one_line(exc),
                )  # fmt: skip
                if attempt + 1 < RECORD_TRIES and not self._stopping:
                    time.sleep(RECORD_BACKOFF_S * 2**attempt)
        return False


def _one_line(exc: BaseException) -> str:
    """`ExceptionClass: first line of its message` (SQLAlchemy appends the SQL and a link)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
