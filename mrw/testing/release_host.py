"""A loopback file host for release downloads: honours HTTP Range, can drop a connection.

with ReleaseHost({"/data/x.tsv": b"..."}) as host:
    host.cut_after["/data/x.tsv"] = [100]  # the next response stops after 100 bytes
    host.url("/data/x.tsv")
    host.requests  # [(path, Range header or None), ...]
"""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from typing_extensions import Self


class ReleaseHost:
    def __init__(self, files: dict[str, bytes], *, ranges: bool = True) -> None:
        self.files = dict(files)
        self.ranges = ranges
        self.cut_after: dict[str, list[int]] = {}  # one-shot truncations per path, in order
        self.requests: list[tuple[str, str | None]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base_url + path

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                range_header = self.headers.get("Range")
                host.requests.append((path, range_header))
                body = host.files.get(path)
                if body is None:
                    self._reply(404, b"not found")
                    return
                start, status, headers = 0, 200, {}
                match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
                if match and host.ranges:
                    start = int(match.group(1))
                    if start >= len(body):
                        self._reply(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                        return
                    status = 206
                    headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
                payload = body[start:]
                cuts = host.cut_after.get(path)
                if cuts:
                    headers["Connection"] = "close"
                    self.close_connection = True
                    self._reply(status, payload, headers, send=cuts.pop(0))
                else:
                    self._reply(status, payload, headers)

            def _reply(
                self,
                status: int,
                payload: bytes,
                headers: dict[str, str] | None = None,
                send: int | None = None,
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                try:
                    self.wfile.write(payload if send is None else payload[:send])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

        return Handler
