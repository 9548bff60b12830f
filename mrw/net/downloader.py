"""Concurrent, polite, safe media downloader.

Public API (also used to re-hydrate URL-only dataset releases):

    results = download_many(requests, DownloaderConfig(...), MediaStore(dir))
    for result in results:           # DownloadResult, in completion order
        result.request.key, result.status, result.reason, result.media

Each request is fetched by a pool of threads with a cap per host, over one shared urllib3
connection pool (requests' session layer cost more CPU per file than everything else the
downloader does, on a 2-core machine that is what limits throughput); redirects are followed
by hand so the SSRF guard (`netguard`) checks every hop; 429 and 5xx are retried with
exponential backoff honouring `Retry-After` (which also pauses the whole host); bodies are
streamed, aborted as soon as they exceed the size cap or turn out not to be media (the type
is sniffed from magic bytes), hashed while written, decode-checked, and stored once per
distinct SHA-256.

Final statuses: `ok`, `blocked`, `bad_url`, `http_error` (4xx), `rate_limited` (429 after
all attempts), `server_error` (5xx after all attempts), `timeout`, `network_error`,
`truncated`, `too_large`, `not_media`, `corrupt`, `redirect_loop`.
"""

from __future__ import annotations

import email.utils
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin, urlsplit, urlunsplit

import urllib3
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)

from mrw.media import mediatypes
from mrw.net.guard import BlockedAddress, check_url, guarded_connections, last_blocked
from mrw.net.store import MediaStore, MediaWriter, StoredMedia

T = TypeVar("T")
R = TypeVar("R")

OK = "ok"
RETRYABLE = frozenset({"rate_limited", "server_error", "timeout", "network_error", "truncated"})
CHUNK = 64 * 1024


@dataclass(frozen=True)
class DownloaderConfig:
    """How to download; every limit is explicit so a run's config can be recorded."""

    workers: int = 16
    per_host: int = 8  # concurrent requests to one host
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 30.0
    max_bytes: int = 64 * 1024 * 1024
    max_attempts: int = 4  # attempts per URL for retryable failures
    backoff_s: float = 1.0  # first retry waits about this long, doubling after
    max_wait_s: float = 120.0  # a Retry-After longer than this gives up instead of waiting
    max_redirects: int = 5
    allow_private: bool = False  # let URLs reach loopback/private addresses (tests, local mirrors)
    validate: bool = True  # decode-check media after download
    user_agent: str = "mrw-toolkit/0.1 (research dataset collection)"
    # hostname -> base URL ("http://127.0.0.1:8080"): connect there instead, sending the
    # original Host header. Lets tests and mirrors stand in for real media hosts.
    host_map: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class DownloadRequest:
    key: str  # the caller's id for this item (e.g. a post id); returned untouched
    url: str


@dataclass(frozen=True)
class Attempt:
    """One HTTP exchange (one hop chain) made for a request."""

    url: str
    http_status: int | None
    outcome: str  # "ok" or a status from the module docstring
    detail: str
    elapsed_s: float


@dataclass(frozen=True)
class DownloadResult:
    request: DownloadRequest
    status: str
    reason: str
    final_url: str | None = None
    media: StoredMedia | None = None
    attempts: tuple[Attempt, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status == OK


class _Failure(Exception):
    """One attempt ended without media: `status`, a reason, and how long the server asked us
    to wait."""

    def __init__(
        self,
        status: str,
        reason: str,
        http_status: int | None = None,
        retry_after: float | None = None,
        url: str | None = None,
    ) -> None:
        super().__init__(reason)
        self.status, self.reason, self.http_status = status, reason, http_status
        self.retry_after, self.url = retry_after, url


class _HostGate:
    """At most `per_host` requests at once per host, and a host-wide pause after a Retry-After."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self._lock = threading.Lock()
        self._slots: dict[str, threading.BoundedSemaphore] = {}
        self._paused_until: dict[str, float] = {}

    def slot(self, host: str) -> threading.BoundedSemaphore:
        with self._lock:
            return self._slots.setdefault(host, threading.BoundedSemaphore(self.per_host))

    def pause(self, host: str, seconds: float) -> None:
        with self._lock:
            until = time.monotonic() + seconds
            self._paused_until[host] = max(until, self._paused_until.get(host, 0.0))

    def wait_until_open(self, host: str) -> None:
        while True:
            with self._lock:
                delay = self._paused_until.get(host, 0.0) - time.monotonic()
            if delay <= 0:
                return
            time.sleep(min(delay, 1.0))


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Downloader:
    """Holds the per-thread sessions and host gates of one downloading run."""

    def __init__(self, config: DownloaderConfig, store: MediaStore) -> None:
        self.config = config
        self.store = store
        self.gate = _HostGate(config.per_host)
        # Thread-safe; no environment proxy (it would hide the peer from the guard), no
        # automatic retries or redirects (both are done here, each hop guarded).
        self._pool = urllib3.PoolManager(
            num_pools=64,
            maxsize=max(config.workers, config.per_host),
            retries=False,
            timeout=urllib3.Timeout(connect=config.connect_timeout_s, read=config.read_timeout_s),
        )
        self._headers = {"User-Agent": config.user_agent, "Accept-Encoding": "identity"}

    # -- HTTP plumbing -------------------------------------------------------------------

    def route(self, url: str) -> tuple[str, dict[str, str]]:
        """The URL to connect to (after `host_map`) and extra headers."""
        parts = urlsplit(url)
        base = self.config.host_map.get(parts.hostname or "")
        if not base:
            return url, {}
        mapped = urlsplit(base)
        return urlunsplit((mapped.scheme, mapped.netloc, parts.path, parts.query, "")), {
            "Host": parts.netloc
        }

    def open(self, url: str) -> tuple[urllib3.BaseHTTPResponse, str]:
        """GET `url` following redirects by hand (each hop guarded).

        Returns:
            The response (body not read yet) and the final URL.
        """
        seen = {url}
        current = url
        for _hop in range(self.config.max_redirects + 1):
            target, headers = self.route(current)
            try:
                check_url(target, self.config.allow_private)
            except BlockedAddress as exc:
                raise _Failure("blocked", str(exc), url=current) from None
            except ValueError as exc:
                raise _Failure("bad_url", str(exc), url=current) from None
            try:
                with guarded_connections(self.config.allow_private):
                    response = self._pool.request(
                        "GET",
                        target,
                        headers={**self._headers, **headers},
                        preload_content=False,
                        redirect=False,
                    )
            except BlockedAddress as exc:
                raise _Failure("blocked", str(exc), url=current) from None
            except ValueError as exc:  # urllib3's LocationValueError, URLSchemeUnknown, ...
                raise _Failure("bad_url", f"{_short(exc)}", url=current) from None
            except (HTTPError, OSError) as exc:
                raise _connect_failure(exc, current) from None
            if not response.get_redirect_location():
                return response, current
            location = response.headers.get("Location", "")
            response.close()
            nxt = urljoin(current, location)
            if nxt in seen:
                raise _Failure(
                    "redirect_loop", f"redirect loop at {nxt}", response.status, url=current
                )
            seen.add(nxt)
            current = nxt
        raise _Failure(
            "redirect_loop",
            f"more than {self.config.max_redirects} redirects from {url}",
            url=current,
        )

    # -- one attempt ---------------------------------------------------------------------
    def _attempt(self, url: str) -> tuple[StoredMedia, str, int]:
        response, final_url = self.open(url)
        with response:  # closing drops the connection unless the body was read to its end
            status = response.status
            if status == 429:
                raise _Failure(
                    "rate_limited",
                    "HTTP 429",
                    status,
                    parse_retry_after(response.headers.get("Retry-After")),
                    final_url,
                )
            if status >= 500:
                raise _Failure(
                    "server_error",
                    f"HTTP {status}",
                    status,
                    parse_retry_after(response.headers.get("Retry-After")),
                    final_url,
                )
            if status >= 400 or status < 200 or status in (204, 205):
                raise _Failure("http_error", f"HTTP {status}", status, url=final_url)
            declared = int(response.headers.get("Content-Length") or 0)
            if declared > self.config.max_bytes:
                raise _Failure(
                    "too_large",
                    f"too large ({declared} bytes > {self.config.max_bytes})",
                    status,
                    url=final_url,
                )
            writer = self.store.writer()
            try:
                content_type = self._stream(response, writer, declared, final_url)
                writer.close()
                if self.config.validate:
                    problem = mediatypes.decode_error(writer.path)
                    if problem:
                        raise _Failure(
                            "corrupt", f"{problem} ({content_type})", status, url=final_url
                        )
                stored = self.store.commit(writer, content_type)
                response.release_conn()  # read to the end: the connection is reused
                return stored, final_url, status
            except BaseException:
                writer.discard()
                raise

    def _stream(
        self, response: urllib3.BaseHTTPResponse, writer: MediaWriter, declared: int, url: str
    ) -> str:
        content_type: str | None = None
        head = b""
        try:
            for chunk in response.stream(CHUNK):
                if content_type is None:
                    head += chunk
                    if len(head) < mediatypes.SNIFF_BYTES:
                        continue
                    content_type = self._sniff(head, response, url)
                    chunk, head = head, b""
                writer.write(chunk)
                if writer.size > self.config.max_bytes:
                    raise _Failure(
                        "too_large",
                        f"too large (over {self.config.max_bytes} bytes)",
                        response.status,
                        url=url,
                    )
        except (ProtocolError, OSError) as exc:  # connection reset, fewer bytes than declared
            raise _Failure(
                "truncated",
                f"body cut off after {writer.size} bytes ({_short(exc)})",
                response.status,
                url=url,
            ) from None
        except ReadTimeoutError:
            raise _Failure(
                "timeout", f"read timeout after {writer.size} bytes", response.status, url=url
            ) from None
        except (DecodeError, HTTPError) as exc:  # e.g. a body that claims gzip but is not
            raise _Failure(
                "network_error",
                f"{_short(exc)} after {writer.size} bytes",
                response.status,
                url=url,
            ) from None
        if content_type is None:
            content_type = self._sniff(head, response, url)
            writer.write(head)
        if declared and writer.size < declared:
            raise _Failure(
                "truncated",
                f"body cut off after {writer.size} of {declared} bytes",
                response.status,
                url=url,
            )
        return content_type

    @staticmethod
    def _sniff(head: bytes, response: urllib3.BaseHTTPResponse, url: str) -> str:
        content_type = mediatypes.sniff(head)
        if content_type is None:
            declared = response.headers.get("Content-Type", "none")
            raise _Failure(
                "not_media",
                f"not media: {mediatypes.describe(head)} (declared {declared})",
                response.status,
                url=url,
            )
        return content_type

    # -- one request, with retries -------------------------------------------------------
    def fetch(self, request: DownloadRequest) -> DownloadResult:
        attempts: list[Attempt] = []
        try:
            host = urlsplit(request.url).hostname or ""
        except ValueError as exc:
            return DownloadResult(request, "bad_url", f"malformed URL: {exc}")
        for number in range(1, self.config.max_attempts + 1):
            self.gate.wait_until_open(host)
            started = time.monotonic()
            try:
                with self.gate.slot(host):
                    media, final_url, http_status = self._attempt(request.url)
            except _Failure as failure:
                attempts.append(
                    Attempt(
                        failure.url or request.url,
                        failure.http_status,
                        failure.status,
                        failure.reason,
                        time.monotonic() - started,
                    )
                )
                if failure.status not in RETRYABLE or number == self.config.max_attempts:
                    reason = (
                        failure.reason
                        if number == 1
                        else f"{failure.reason} (after {number} attempts)"
                    )
                    return DownloadResult(
                        request, failure.status, reason, failure.url, None, tuple(attempts)
                    )
                wait_s = self._backoff(number, failure.retry_after)
                if wait_s > self.config.max_wait_s:
                    limit = self.config.max_wait_s
                    reason = f"{failure.reason} (server asked to wait {wait_s:.0f}s > {limit:.0f}s)"
                    return DownloadResult(
                        request, failure.status, reason, failure.url, None, tuple(attempts)
                    )
                if failure.retry_after is not None:
                    self.gate.pause(host, wait_s)
                time.sleep(wait_s)
                continue
            attempts.append(
                Attempt(
                    final_url,
                    http_status,
                    OK,
                    f"{media.content_type} {media.size} bytes",
                    time.monotonic() - started,
                )
            )
            return DownloadResult(request, OK, "", final_url, media, tuple(attempts))
        raise AssertionError("unreachable: the last attempt always returns")

    def _backoff(self, number: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return self.config.backoff_s * (2 ** (number - 1)) * random.uniform(0.75, 1.25)

    def fetch_text(self, url: str, max_bytes: int = 2 * 1024 * 1024) -> str:
        """GET a small page (e.g. an imgur album) through the same guard and redirect rules.

        Raises:
            PageError: the page could not be fetched (status in the downloader's vocabulary).
        """
        try:
            host = urlsplit(url).hostname or ""
        except ValueError as exc:
            raise PageError("bad_url", f"malformed URL: {exc}") from None
        with self.gate.slot(host):  # pages count against the host's limit like media
            return self._read_page(url, max_bytes)

    def _read_page(self, url: str, max_bytes: int) -> str:
        try:
            response, _final = self.open(url)
        except _Failure as failure:
            raise PageError(failure.status, failure.reason) from None
        with response:
            if response.status != 200:
                raise PageError("http_error", f"HTTP {response.status} for {url}")
            body = b""
            try:
                for chunk in response.stream(CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise PageError("too_large", f"page over {max_bytes} bytes: {url}")
            except (HTTPError, OSError) as exc:
                raise PageError("network_error", f"{_short(exc)} for {url}") from None
            response.release_conn()
        encoding = get_encoding_from_headers(response.headers) or "utf-8"
        return body.decode(encoding, errors="replace")


class PageError(Exception):
    """A page needed for resolution could not be fetched (status: the downloader's words)."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


def bounded_imap(fn: Callable[[T], R], items: Iterable[T], workers: int) -> Iterator[R]:
    """`fn` over `items` on `workers` threads, yielding results as they finish.

    Items are pulled lazily (at most twice the worker count in flight), so a generator of
    millions of items never sits in memory at once.
    """
    workers = max(1, workers)
    pending: set[Future[R]] = set()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mrw-collect")
    try:
        for item in items:
            pending.add(pool.submit(fn, item))
            if len(pending) >= 2 * workers:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            yield from (future.result() for future in done)
    finally:
        # on Ctrl-C or an abandoned generator, queued work is dropped; running work ends
        # within its timeouts and its result is simply not recorded (redone next run)
        pool.shutdown(wait=True, cancel_futures=True)


def download_many(
    requests_: Iterable[DownloadRequest],
    config: DownloaderConfig,
    store: MediaStore,
    downloader: Downloader | None = None,
) -> Iterator[DownloadResult]:
    """Download every request with `config.workers` threads; yields results as they finish.

    Never raises for a bad URL or a bad server: every request yields exactly one
    `DownloadResult`. Pass `downloader` to share host gates with other work (e.g. resolution).
    """
    downloader = downloader or Downloader(config, store)
    return bounded_imap(downloader.fetch, requests_, config.workers)


def _connect_failure(exc: BaseException, url: str) -> _Failure:
    """The failure of a request that got no response: blocked, timeout or network error."""
    blocked = last_blocked()
    if blocked is not None:
        return _Failure("blocked", str(blocked), url=url)
    # NewConnectionError subclasses ConnectTimeoutError (urllib3 2), so check it first.
    timed_out = (
        _find_cause(exc, TimeoutError) is not None
        if isinstance(exc, NewConnectionError)
        else isinstance(exc, (ConnectTimeoutError, ReadTimeoutError, TimeoutError))
    )
    if timed_out:
        kind = "connect timeout" if isinstance(exc, ConnectTimeoutError) else "timeout"
        return _Failure("timeout", f"{kind} for {url}", url=url)
    return _Failure("network_error", f"{_short(exc)} for {url}", url=url)


def _find_cause(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    seen: set[int] = set()
    stack: list[BaseException | None] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, kind):
            return current
        stack.extend(
            [
                current.__cause__,
                current.__context__,
                *[a for a in current.args if isinstance(a, BaseException)],
            ]
        )
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            stack.append(reason)
    return None


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}"
