"""The server's HTTP/1.1 protocol (`leaderboard.server.http11`): a request whose body breaks
HTTP while the app is still answering it ends cleanly, whatever the event loop's timing.

The race is made deterministic: the head and the broken body arrive in one `data_received`,
and the app's response is sent in the same loop turn, before `connection_lost` could run
(what a thread-pool call finishing at that moment does under load)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("uvicorn", reason="the server extra is not installed")

from uvicorn.config import Config
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from leaderboard.server.http11 import PromptH11Protocol

HEAD = b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
NOT_CHUNKED = b"not a chunk size\r\n"


class _Transport(asyncio.Transport):
    """Records what the server writes; closing is remembered, not acted on."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closed = False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 40000)}.get(
            name, default
        )

    def write(self, data: bytes) -> None:
        self.written.extend(data)

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed


async def _answer_after_bad_body(protocol_class: type[H11Protocol]) -> tuple[bytes, bool]:
    """(what went out, whether the app saw a disconnect) for an app that answers in the turn
    the broken body arrives."""
    seen: list[str] = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        """Waits for the end of the request; its answer is sent below, at the racy moment."""
        seen.append((await receive())["type"])

    config = Config(app, log_config=None, lifespan="off")
    protocol = protocol_class(config, ServerState(), {}, asyncio.get_running_loop())
    transport = _Transport()
    protocol.connection_made(transport)
    protocol.data_received(HEAD + NOT_CHUNKED)
    cycle = protocol.cycle
    assert cycle is not None
    await cycle.send({"type": "http.response.start", "status": 200, "headers": []})
    try:
        await cycle.send({"type": "http.response.body", "body": b"page", "more_body": False})
        await asyncio.sleep(0)  # the app's task runs
        return bytes(transport.written), seen == ["http.disconnect"]
    finally:
        protocol.connection_lost(None)
        await asyncio.sleep(0)


def test_the_apps_late_response_is_dropped_not_an_error() -> None:
    written, disconnected = asyncio.run(_answer_after_bad_body(PromptH11Protocol))
    assert written.startswith(b"HTTP/1.1 400 ") and written.count(b"HTTP/1.1") == 1
    assert b"page" not in written and disconnected


def test_uvicorns_own_protocol_still_has_the_race() -> None:
    """The reason the server uses its own: if uvicorn fixes this, drop `PromptH11Protocol`."""
    import h11

    with pytest.raises(h11.LocalProtocolError):
        asyncio.run(_answer_after_bad_body(H11Protocol))
