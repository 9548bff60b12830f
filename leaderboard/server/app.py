"""The ASGI app (Starlette): submission API, board JSON, board page, submission pages.

Routes take no path from a request: submission ids are integers, storage folders are named
by the server, and nothing is served from disk (no static files; the truth folder is only
read by the scorer). No CORS headers are sent, so browsers keep other sites' pages from
reading the API. Request bodies are bounded (only the upload route reads one).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import logging
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from leaderboard.board import clean_fields
from leaderboard.errors import BoardError
from leaderboard.metrics import Metrics
from leaderboard.render import SORT_SCRIPT_CSP
from leaderboard.server import pages, phases, standings, store, teams, upload
from leaderboard.server.db import Database
from leaderboard.server.declared import declared_fields
from leaderboard.server.models import FAILED, SCORED, Phase
from leaderboard.server.truth import Truth
from leaderboard.server.worker import Workers

log = logging.getLogger("leaderboard.server")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (
        b"content-security-policy",
        (
            "default-src 'none'; style-src 'unsafe-inline'; "
            f"script-src {SORT_SCRIPT_CSP}; "  # the board's sorting script, by its hash
            "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ).encode(),
    ),
]


@dataclass
class Server:
    """Everything the routes need."""

    db: Database
    truth: Truth
    storage: Path
    limits: store.Limits
    workers: Workers


class _HttpMiddleware:
    """A pure ASGI middleware that acts on HTTP requests (`http`) and passes the rest on."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
        else:
            await self.http(scope, receive, send)

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        """Handle one HTTP request (calling `self.app`)."""
        raise NotImplementedError


class SecurityHeaders(_HttpMiddleware):
    """Adds `SECURITY_HEADERS` to every response."""

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on; add the headers to its response."""

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


DRAIN_MAX_BYTES = 1 << 20  # an unread body up to this size is read before answering
DRAIN_TIMEOUT_S = 5.0


async def _drained(receive: Any) -> bool:
    """Read the rest of a request's body; False when it takes over `DRAIN_TIMEOUT_S`."""

    async def drain() -> None:
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                return

    try:
        await asyncio.wait_for(drain(), DRAIN_TIMEOUT_S)
    except asyncio.TimeoutError:
        return False
    return True


def _declared_length(scope: dict) -> int | None:
    """The request's Content-Length (0 without a body), or None for a chunked or odd one."""
    headers = dict(scope.get("headers", []))
    if b"transfer-encoding" in headers:
        return None
    length = headers.get(b"content-length", b"0").strip()
    return int(length) if length.isdigit() and len(length) < 19 else None


class CloseUnreadBodies(_HttpMiddleware):
    """For requests answered before their body was read to the end.

    A small body (at most `DRAIN_MAX_BYTES`) the app did not start reading is read and dropped
    before the answer goes out (if it arrives within `DRAIN_TIMEOUT_S`), so the client sees
    the answer, not a reset connection. Any other body (larger, chunked, stalled, or one the
    app stopped reading, e.g. over a cap) is not read: the answer carries `Connection: close`
    and the server closes the connection instead of reading (and discarding) the rest to keep
    it alive, so nobody, token or not, can make it read gigabytes by sending a body to a
    route that refuses it (401, 429, every GET).
    """

    async def http(self, scope: dict, receive: Any, send: Any) -> None:
        """Pass the request on; read or refuse what it leaves of its body when it answers."""
        length = _declared_length(scope)
        body_read, body_touched = length == 0, False

        async def tracking_receive() -> dict:
            nonlocal body_read, body_touched
            body_touched = True
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read = True
            return message

        async def closing_send(message: dict) -> None:
            if message["type"] == "http.response.start" and not body_read:
                small = length is not None and length <= DRAIN_MAX_BYTES
                if not (small and not body_touched and await _drained(tracking_receive)):
                    message["headers"] = [*message.get("headers", []), (b"connection", b"close")]
            await send(message)

        await self.app(scope, tracking_receive, closing_send)


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status, headers=headers)


def _bearer(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def _team(request: Request) -> tuple[int, str] | None:
    token = _bearer(request)
    return (
        await run_in_threadpool(teams.authenticate, request.app.state.server.db, token)
        if token
        else None
    )


UNAUTHORIZED = {"WWW-Authenticate": 'Bearer realm="mrw-leaderboard"'}


async def create_submission(request: Request) -> Response:
    """`POST /api/submissions`: take a multipart run pair from a team and queue it.

    The slot is reserved (per-day and total limits) before the body is read, and given back
    if the upload is refused.

    Returns:
        202 with `{"id", "status": "queued", "url"}` and a `Location` header; 401 bad token,
        400 malformed upload or unknown split (or, with phases, a split the open phase does
        not score), 403 no phase open (on a board with phases), 409 duplicate files, 413 body
        over the cap, 429 limit reached (with `Retry-After` when known), 507 storage full,
        503 storage not writable or an open phase this server cannot score (one line, no
        server path; the log has one line too).
    """
    server: Server = request.app.state.server
    team = await _team(request)
    if team is None:
        return _error(401, "missing, unknown or revoked token", UNAUTHORIZED)
    board_phases = await run_in_threadpool(phases.list_phases, server.db)
    phase = phases.current(board_phases)
    if board_phases and phase is None:
        return _error(403, "no phase of this board is open for submissions now (see /api/info)")
    try:  # a phase opened beside the running server, on a split it lacks or of wrong visibility
        phases.check([phase] if phase else [], server.truth)
    except phases.PhaseError as exc:
        log.error("submissions refused: %s", exc)
        return _error(503, "the open phase cannot be scored here; the organisers were notified")
    try:
        upload.boundary_of(request.headers.get("content-type", ""))
    except upload.BadUpload as exc:
        return _error(400, str(exc))
    cap = upload.body_cap(server.limits.max_upload_bytes)
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > cap):
        message = (
            f"upload over the cap of {server.limits.max_upload_bytes} bytes per run file "
            f"(Content-Length {length[:20]}; at most {cap} for the whole request)"
        )
        return _error(413, message, {"Connection": "close"})
    try:
        submission_id = await run_in_threadpool(
            store.reserve,
            server.db,
            team[0],
            _phase_limits(server.limits, phase),
            None if phase is None else phase.name,
        )
    except store.LimitReached as exc:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return _error(429, str(exc), headers)
    folder = server.storage / str(submission_id)
    try:
        shutil.rmtree(folder, ignore_errors=True)  # left by a crash before its row was dropped
        folder.mkdir(parents=True)
        received = await upload.receive(
            request.stream(),
            request.headers["content-type"],
            folder,
            server.limits.max_upload_bytes,
            server.limits.stall_timeout_s,
        )
        fields = _check_fields(received.text, server.truth, phase)
        truth_sha256 = server.truth.splits[fields["split"]].sha256
        declared = declared_fields(received.text, fields["dataset"], fields["split"], truth_sha256)
        await run_in_threadpool(
            store.enqueue,
            server.db,
            submission_id,
            store.Upload(
                **fields,
                **declared,
                truth_sha256=truth_sha256,
                t2v_sha256=received.sha256["t2v"],
                v2t_sha256=received.sha256["v2t"],
            ),
        )
    except Exception as exc:  # a refused upload gives its slot back (a cancelled one: on restart)
        await run_in_threadpool(_discard, server, submission_id)
        if isinstance(exc, OSError):  # the storage is full or cannot be written
            log.error("submission %d: cannot store the upload: %s", submission_id, exc)
            return _error(*upload.storage_refusal(exc))
        refusal = _refusal(exc)
        if refusal is None:
            raise
        return refusal
    server.workers.wake()
    url = f"/api/submissions/{submission_id}"
    return JSONResponse(
        {"id": submission_id, "status": "queued", "url": url}, 202, headers={"Location": url}
    )


def _refusal(exc: Exception) -> Response | None:
    """The response for an upload refused by `exc`, or None for an unexpected error."""
    if isinstance(exc, upload.UploadTooLarge):
        return _error(413, str(exc), {"Connection": "close"})
    if isinstance(exc, (upload.BadUpload, BoardError)):
        return _error(400, str(exc))
    if isinstance(exc, store.DuplicateSubmission):
        return _error(409, str(exc))
    if isinstance(exc, ClientDisconnect):
        return Response(status_code=400)
    return None


def _phase_limits(limits: store.Limits, phase: Phase | None) -> store.Limits:
    """The server's limits with the phase's own `per_day`/`total` where it sets them."""
    if phase is None:
        return limits
    return dataclasses.replace(
        limits,
        per_day=limits.per_day if phase.per_day is None else phase.per_day,
        total=limits.total if phase.total is None else phase.total,
    )


def _check_fields(text: dict[str, str], truth: Truth, phase: Phase | None = None) -> dict[str, str]:
    asked = text.get("split", "").strip()
    if phase is not None and asked and asked != phase.split:
        raise upload.BadUpload(
            f"the open phase ({phase.name}) scores split {phase.split!r}, not {asked[:40]!r}"
        )
    split = phase.split if phase is not None else asked or truth.default_split
    if split not in truth.splits:
        raise upload.BadUpload(
            f"unknown split {split[:40]!r}; this server scores {sorted(truth.splits)}"
        )
    fields = clean_fields(
        name=text.get("name", ""), description=text.get("description", ""), label_prefix=""
    )
    return {**fields, "dataset": truth.dataset, "split": split}


def _discard(server: Server, submission_id: int) -> None:
    # The folder first: once the row is gone its id may be handed out again (SQLite reuses
    # the largest id), and the new upload's folder must not be the one deleted here.
    shutil.rmtree(server.storage / str(submission_id), ignore_errors=True)
    store.discard(server.db, submission_id)


async def _own_submission(server: Server, request: Request) -> tuple[Any, str] | Response:
    """The token's team's submission named by the path's `id` with its team's name, or the
    refusal: 401 for a bad token, 404 for an unknown id or another team's submission."""
    team = await _team(request)
    if team is None:
        return _error(401, "missing, unknown or revoked token", UNAUTHORIZED)
    found = await _find(server, request)
    if found is None or found[0].team_id != team[0]:
        return _error(404, "no such submission of your team")
    return found


async def _find(server: Server, request: Request) -> tuple[Any, str] | None:
    """The submission named by the path's `{id}` (digits only, at most 19: a database
    integer), or None, so no path text ever reaches `int()` unbounded or the database."""
    text = request.path_params["id"]
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        return None
    return await run_in_threadpool(store.get, server.db, int(text))


async def get_submission(request: Request) -> Response:
    """`GET /api/submissions/{id}`: the status document of one of the caller's submissions.

    A submission being scored reads `"status": "queued"` with `"scoring": true`; a scored one
    carries its metrics (and per-query details for splits scored with them), a failed one
    its reason. A test-phase submission's `metrics` are those of the public part; after the
    reveal `private_metrics` and `all_queries_metrics` come too. 401 for a bad token, 404 for
    an unknown id or another team's submission.
    """
    server: Server = request.app.state.server
    found = await _own_submission(server, request)
    if isinstance(found, Response):
        return found
    row, team_name = found
    body: dict[str, Any] = {
        "id": row.id,
        "status": row.status if row.status != "scoring" else "queued",
        "scoring": row.status == "scoring",
        "team": team_name,
        "name": row.name,
        "description": row.description,
        "dataset": row.dataset,
        "split": row.split,
        "submitted_utc": f"{row.submitted_utc:%Y-%m-%dT%H:%M:%SZ}",
        "t2v_sha256": row.t2v_sha256,
        "v2t_sha256": row.v2t_sha256,
        "truth_sha256": row.truth_sha256,
        "attempts": row.attempts,
        "training_data": row.training_data,
        "code_url": row.code_url,
        "code_commit": row.code_commit,
        "checkpoint_sha256": row.checkpoint_sha256,
        "protocol_hash": row.protocol_hash,
        "phase": phases.phase_of(row, server.truth),
        "selected": row.selected,
    }
    if row.status in (SCORED, FAILED):
        body["scorer_version"] = row.scorer_version
    if row.status == SCORED and body["phase"] == phases.TEST:
        body["metrics"] = phases.part_metrics(row, phases.PUBLIC_LABEL).to_json()
        if await run_in_threadpool(phases.is_revealed, server.db):
            body["private_metrics"] = phases.part_metrics(row, phases.PRIVATE_LABEL).to_json()
            body["all_queries_metrics"] = Metrics.from_json(row.metrics).to_json()
    elif row.status == SCORED:
        body["metrics"] = Metrics.from_json(row.metrics).to_json()  # the scorer's key order
        if row.details is not None:
            body["details"] = row.details
    elif row.reason:
        body["reason"] = row.reason
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def get_team(request: Request) -> Response:
    """`GET /api/team`: the caller's team and its use of the limits (401 for a bad token).

    `submit` asks this before uploading, so a bad token is reported before any file is sent.
    """
    server: Server = request.app.state.server
    team = await _team(request)
    if team is None:
        return _error(401, "missing, unknown or revoked token", UNAUTHORIZED)
    phase = phases.current(await run_in_threadpool(phases.list_phases, server.db))
    name = None if phase is None else phase.name
    today, total = await run_in_threadpool(store.usage, server.db, team[0], name)
    limits = _phase_limits(server.limits, phase)
    return JSONResponse(
        {
            "team": team[1],
            "phase": name,
            "submissions_today": today,
            "submissions_total": total,
            "limits": {"per_day": limits.per_day, "total": limits.total},
        },
        headers={"Cache-Control": "no-store"},
    )


async def get_board(request: Request) -> Response:
    """`GET /api/board`: the standings (`standings.to_json`): one board per (dataset, board,
    protocol card) with ranks (none for baselines), artefacts, training data and the test
    against the leader, and the ranking across datasets. Query parameters `dataset` and
    `split` restrict the boards; no token is needed. Per-query ranks are never in it. In the
    test phase its board is `test (public)`; after the reveal `test (private)` and `test`
    (all queries) come too (`phases.board_variants`).
    """
    server: Server = request.app.state.server
    current = await run_in_threadpool(
        standings.current,
        server.db,
        server.truth,
        request.query_params.get("dataset") or None,
        request.query_params.get("split") or None,
    )
    generated = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return JSONResponse(standings.to_json(current, generated))


async def get_info(request: Request) -> Response:
    """`GET /api/info`: the dataset label, splits (all, public, default), upload limits, and
    the board's phases (`phases.public_view`; `phase`: the one open now, or null)."""
    server: Server = request.app.state.server
    limits = server.limits
    board_phases = await run_in_threadpool(phases.list_phases, server.db)
    phase = phases.current(board_phases)
    return JSONResponse(
        {
            "phase": None if phase is None else phase.name,
            "phases": [phases.public_view(p) for p in board_phases],
            "dataset": server.truth.dataset,
            "splits": sorted(server.truth.splits),
            "public_splits": server.truth.public_splits(),
            "default_split": server.truth.default_split,
            "limits": {
                "per_day": limits.per_day,
                "total": limits.total,
                "max_upload_bytes": limits.max_upload_bytes,
                "max_run_bytes": limits.max_run_bytes,
            },
        }
    )


async def board_page(request: Request) -> Response:
    """The HTML board: its phases, the per-card tables and the ranking across datasets."""
    server: Server = request.app.state.server
    current = await run_in_threadpool(standings.current, server.db, server.truth)
    board_phases = await run_in_threadpool(phases.list_phases, server.db)
    open_now = phases.current(board_phases)
    shown = [{**phases.public_view(p), "open": p is open_now} for p in board_phases]
    return HTMLResponse(pages.board_page(current, shown))


async def submission_page(request: Request) -> Response:
    """The HTML page of one scored submission (per-query details only on public splits; a
    test-phase submission shows its public part's metrics, and, after the reveal, its
    private part's and all queries' too).

    Any submission not scored (unknown, queued or failed) gives 404.
    """
    server: Server = request.app.state.server
    found = await _find(server, request)
    if found is None or found[0].status != SCORED:
        return HTMLResponse(pages.NOT_FOUND, 404)
    record = store.as_record(*found)
    declared = standings.declared_facts(found[0])
    if phases.phase_of(found[0], server.truth) == phases.TEST:
        parts = [(phases.PUBLIC_LABEL, phases.part_metrics(found[0], phases.PUBLIC_LABEL))]
        if await run_in_threadpool(phases.is_revealed, server.db):
            parts += [
                (phases.PRIVATE_LABEL, phases.part_metrics(found[0], phases.PRIVATE_LABEL)),
                ("all queries", record.metrics),
            ]
        return HTMLResponse(pages.test_phase_page(record, parts, declared))
    split = server.truth.splits.get(record.split)
    return HTMLResponse(pages.submission_page(record, bool(split and split.public), declared))


async def get_detail(request: Request) -> Response:
    """`GET /api/submissions/{id}/detail`: a scored submission's per-query results (per
    direction, query id -> rank of its first relevant document, null when not in the run),
    to its own team only, and only for a dev-phase submission (a public split).

    401 bad token; 404 unknown id or another team's submission; 409 not scored; 403 a test or
    closed-phase submission (aggregates only), with the same line whatever its queries.
    """
    server: Server = request.app.state.server
    found = await _own_submission(server, request)
    if isinstance(found, Response):
        return found
    row = found[0]
    phase = phases.phase_of(row, server.truth)
    if phase != phases.DEV:
        return _error(403, f"per-query detail is given for dev-phase submissions only; this "
                           f"one ({phase} phase, hidden split) has aggregates only")  # fmt: skip
    if row.status != SCORED:
        return _error(409, f"submission #{row.id} is {row.status}, not scored")
    body = {"id": row.id, "phase": phase, "split": row.split, "details": row.details or {}}
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


SELECTION_MAX_BYTES = 4096


async def get_selection(request: Request) -> Response:
    """`GET /api/selection`: the caller's selected test-phase submissions and the most it may
    select (`{"selected": [ids], "max_selected", "revealed"}`; 401 bad token, 404 no test
    phase)."""
    server: Server = request.app.state.server
    team = await _team(request)
    if team is None:
        return _error(401, "missing, unknown or revoked token", UNAUTHORIZED)
    ids, test = await run_in_threadpool(phases.selection, server.db, team[0])
    if test is None:
        return _error(404, "this board has no test phase: nothing to select")
    body = {
        "selected": ids,
        "max_selected": test.max_selected,
        "revealed": test.revealed_utc is not None,
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def put_selection(request: Request) -> Response:
    """`PUT /api/selection` with `{"ids": [...]}`: the caller's whole selection for the
    private ranking (at most the test phase's `max_selected`; `[]` clears it).

    Returns:
        200 `{"selected": [ids]}`; 401 bad token; 400 a body that is not such a document (or
        over 4 KiB); 409 a selection the board does not allow (`phases.select_submissions`).
    """
    server: Server = request.app.state.server
    team = await _team(request)
    if team is None:
        return _error(401, "missing, unknown or revoked token", UNAUTHORIZED)
    length = _declared_length(request.scope)
    if length is None or length > SELECTION_MAX_BYTES:
        return _error(400, f"send the selection as JSON of at most {SELECTION_MAX_BYTES} bytes")
    try:
        document = json.loads(await request.body())
    except (ValueError, ClientDisconnect):
        document = None
    ids = document.get("ids") if isinstance(document, dict) else None
    if not (
        isinstance(ids, list)
        and all(isinstance(i, int) and not isinstance(i, bool) and 0 < i <= store.MAX_ID
                for i in ids)
    ):  # fmt: skip
        return _error(400, 'the body must be {"ids": [submission numbers]}')
    try:
        chosen = await run_in_threadpool(phases.select_submissions, server.db, team[0], ids)
    except phases.PhaseError as exc:
        return _error(409, str(exc))
    return JSONResponse({"selected": chosen}, headers={"Cache-Control": "no-store"})


def create_app(server: Server, run_workers: bool = True) -> Any:
    """The ASGI app over a migrated database; its lifespan starts and stops the workers."""

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if run_workers:
            server.workers.start()
        try:
            yield
        finally:
            if run_workers:
                await run_in_threadpool(server.workers.stop)

    app = Starlette(
        routes=[
            Route("/", board_page, methods=["GET"]),
            Route("/submissions/{id}", submission_page, methods=["GET"]),
            Route("/api/info", get_info, methods=["GET"]),
            Route("/api/team", get_team, methods=["GET"]),
            Route("/api/board", get_board, methods=["GET"]),
            Route("/api/submissions", create_submission, methods=["POST"]),
            Route("/api/submissions/{id}", get_submission, methods=["GET"]),
            Route("/api/submissions/{id}/detail", get_detail, methods=["GET"]),
            Route("/api/selection", get_selection, methods=["GET"]),
            Route("/api/selection", put_selection, methods=["PUT"]),
        ],
        lifespan=lifespan,
    )
    app.state.server = server
    return SecurityHeaders(CloseUnreadBodies(app))


def prepare(
    db: Database,
    truth: Truth,
    storage: Path,
    limits: store.Limits,
    threads: int,
    discard_uploads: bool = False,
) -> Server:
    """Migrate the database, recover from a stopped run, and assemble the `Server`.

    Raises:
        BoardError: the database cannot be used, or the storage folder cannot be made or has
            less free space than one submission may need (2 x `limits.max_upload_bytes`).
        PhaseError: a phase scores a split the truth lacks, or of the wrong visibility.
        OutputPathError: the storage folder cannot be written.
    """
    db.migrate()
    phases.check(phases.list_phases(db), truth)
    try:
        storage.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BoardError(f"--storage {storage}: cannot make the folder ({exc.strerror})") from None
    upload.check_storage(storage, 2 * limits.max_upload_bytes)
    for submission_id in store.recover(db):
        shutil.rmtree(storage / str(submission_id), ignore_errors=True)
    workers = Workers(db, truth, storage, limits, threads, discard_uploads)
    return Server(db, truth, storage, limits, workers)
