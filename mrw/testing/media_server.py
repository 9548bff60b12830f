"""A loopback HTTP media host that injects the faults real hosts show.

    with MediaServer() as server:
        server.add("/a.gif", make_gif(1), content_type="image/gif")
        server.add("/flaky.gif", gif, before=[Route(status=429, headers={"Retry-After": "1"})])
        server.url("/a.gif")  # http://127.0.0.1:PORT/a.gif

A route can answer with latency, any status, a redirect, a truncated body (full
Content-Length, fewer bytes, then the connection closes), no Content-Length (streamed), and a
list of `before` responses served once each, in order, before the normal one (a 429 then a
503 then the file). Routes are matched on the request path, optionally per Host header (so
one server can stand in for several hosts via the downloader's `host_map`).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from typing_extensions import Self


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/octet-stream"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    redirect_to: str | None = None  # Location (absolute or relative); status defaults to 302
    latency_s: float = 0.0
    truncate_to: int | None = None  # send only this many body bytes, then close
    stream: bool = False  # no Content-Length; body written in chunks, connection closed at end
    before: list[Route] = field(default_factory=list)  # one-shot responses served first
    handler: Callable[[Request], Route] | None = None  # computes the response per request


class MediaServer:
    def __init__(self, latency_s: float = 0.0) -> None:
        self.latency_s = latency_s
        self.routes: dict[tuple[str | None, str], Route] = {}
        self.hits: Counter[str] = Counter()
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0  # most requests being answered at once (checks per-host limits)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._httpd.request_queue_size = 256
        self._httpd.handle_error = lambda request, address: (
            None
        )  # clients hanging up is normal here
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def add(
        self, path: str, body: bytes = b"", *, host: str | None = None, **options: object
    ) -> str:
        """Register a route (options: the `Route` fields); returns its URL on this server."""
        route = options.pop("route", None) or Route(body=body, **options)  # type: ignore[arg-type]
        with self._lock:
            self.routes[(host, path)] = route
        return self.url(path)

    def start(self) -> MediaServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _next_response(self, host: str | None, request: Request) -> Route | None:
        with self._lock:
            self.requests.append(request)
            route = self.routes.get((host, request.path)) or self.routes.get((None, request.path))
            if route is None:
                return None
            self.hits[request.path] += 1
            route = route.before.pop(0) if route.before else route
        return route.handler(request) if route.handler else route

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0] or None
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if self.command == "POST" and body:
                    query = f"{query}&{body.decode('latin-1')}"
                request = Request(
                    self.command,
                    path,
                    {k: v[-1] for k, v in parse_qs(query).items()},
                    dict(self.headers.items()),
                    body,
                )
                route = server._next_response(host, request)
                if route is None:
                    route = Route(status=404, body=b"not found", content_type="text/plain")
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    delay = route.latency_s or server.latency_s
                    if delay:
                        time.sleep(delay)
                    self._send(route)
                finally:
                    with server._lock:
                        server.in_flight -= 1

            do_POST = do_GET

            def _send(self, route: Route) -> None:
                status = route.status
                if route.redirect_to is not None and status == 200:
                    status = 302
                self.send_response(status)
                self.send_header("Content-Type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.redirect_to is not None:
                    self.send_header("Location", route.redirect_to)
                body = route.body
                if route.stream:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                else:
                    self.send_header("Content-Length", str(len(body)))
                if route.truncate_to is not None:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                    body = body[: route.truncate_to]
                self.end_headers()
                try:
                    for start in range(0, len(body), 16384):
                        self.wfile.write(body[start : start + 16384])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True

        return Handler
