"""Connections nobody uses must not lock others out: a per-address cap and a header timeout.

uvicorn bounds the connections served at once (`limit_concurrency`: more get 503) but has no
timeout for a request's headers: a connection that sends nothing, or a header byte now and
then, is held forever. 35 such connections from one address against a cap of 30 gave every
other client a 503, without a token. `guarded_h11` is uvicorn's h11 protocol with two limits:

- at most `per_address` open connections per client address; one more is answered `503`
  and closed at once, so one address cannot take the whole `limit_concurrency`;
- a request's headers must be complete within `header_timeout_s` of the connection's start,
  or of the end of the previous response on a kept-alive connection; otherwise the
  connection is closed, with a `408` if part of a request had arrived (the body of an upload
  is bounded separately, by the upload stall timeout).

The address is the TCP peer: behind a reverse proxy every connection comes from the proxy,
so there raise the cap to `--max-connections` and let the proxy limit per client.
"""

from __future__ import annotations

import asyncio
import collections
import json
from typing import Any

_ERROR = "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nconnection: close\r\n"


def _answer(status: str, message: str) -> bytes:
    """A whole HTTP/1.1 response with `{"error": message}` and `Connection: close`."""
    body = json.dumps({"error": message}).encode()
    head = _ERROR.format(status=status) + f"content-length: {len(body)}\r\n\r\n"
    return head.encode() + body


def guarded_h11(per_address: int, header_timeout_s: float) -> type[asyncio.Protocol]:
    """uvicorn's h11 protocol class with a per-address connection cap and a header timeout.

    Pass the class as `uvicorn.Config(http=...)`; every connection of that server shares one
    count per address.

    Args:
        per_address: open connections allowed per client IP address (>= 1).
        header_timeout_s: seconds a connection has to deliver a complete request head (> 0).

    Returns:
        A subclass of `uvicorn.protocols.http.h11_impl.H11Protocol`.
    """
    import h11

    from leaderboard.server.http11 import PromptH11Protocol

    open_connections: collections.Counter[str] = collections.Counter()
    too_many = _answer(
        "503 Service Unavailable",
        f"too many connections from your address (at most {per_address} at once)",
    )
    too_slow = _answer(
        "408 Request Timeout", f"request headers not received within {header_timeout_s:g} s"
    )

    class GuardedH11Protocol(PromptH11Protocol):
        """`PromptH11Protocol` (a request that breaks HTTP ends at once) with the cap and
        the header timeout of `guarded_h11`."""

        _address: str | None = None
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            address = self.client[0] if self.client else ""
            if open_connections[address] >= per_address:
                transport.write(too_many)
                transport.close()
                return
            open_connections[address] += 1
            self._address = address
            self._await_headers()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            if self._address is not None:
                open_connections[self._address] -= 1
                if not open_connections[self._address]:
                    del open_connections[self._address]
                self._address = None
            super().connection_lost(exc)

        def on_response_complete(self) -> None:
            super().on_response_complete()
            self._await_headers()  # the next request on this connection gets its own time

        def _await_headers(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
            self._header_timer = self.loop.call_later(header_timeout_s, self._headers_late)

        def _headers_late(self) -> None:
            # IDLE: no complete request head since the timer started (h11 buffers a partial one)
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                if self.conn.trailing_data[0]:  # part of a request: say why it ends
                    self.transport.write(too_slow)
                self.transport.close()

    return GuardedH11Protocol
