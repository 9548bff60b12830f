"""Stalled connections from one address do not lock other clients out (issue 28, item 14).

Everything stays on loopback: the server listens on 127.0.0.1 and the other client connects
from 127.0.0.2 (Linux routes all of 127.0.0.0/8 to the loopback interface).
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the server extra is not installed")

from mrw.testing.leaderboard_server import LiveServer, live_server, make_truth

pytestmark = pytest.mark.slow

PER_ADDRESS, HEADER_TIMEOUT_S = 8, 2.0
STALLED = 35  # against --max-connections 30: before the per-address cap, all others got 503


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("connections")
    truth = make_truth(folder / "toyset" / "qrels")
    limits = ("--max-connections", "30", "--max-connections-per-ip", str(PER_ADDRESS))
    with live_server(folder, truth, *limits, "--header-timeout", str(HEADER_TIMEOUT_S)) as live:
        yield live


def _connect(server: LiveServer, source: str = "127.0.0.1") -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    connection = socket.create_connection((host, int(port)), timeout=10, source_address=(source, 0))
    return connection


def _other_address_served(server: LiveServer) -> int:
    import httpx

    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(base_url=server.url, transport=transport, timeout=10) as http:
        return http.get("/api/info").status_code


def _read_until_closed(connection: socket.socket, deadline: float) -> bytes | None:
    """What the server sent before closing the connection; None if still open at `deadline`."""
    received = b""
    while time.monotonic() < deadline:
        connection.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = connection.recv(65536)
        except TimeoutError:
            return None
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk
    return None


def test_stalled_connections_from_one_address_leave_others_served(server: LiveServer) -> None:
    stalled = [_connect(server) for _ in range(STALLED)]
    try:
        for connection in stalled:  # half a request head each, then nothing
            connection.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n")
        time.sleep(0.3)  # let the server accept every one of them
        assert _other_address_served(server) == 200
        opened = time.monotonic()
        answers = [_read_until_closed(c, opened + HEADER_TIMEOUT_S + 10) for c in stalled]
    finally:
        for connection in stalled:
            connection.close()
    refused = [a for a in answers if a is not None and a.startswith(b"HTTP/1.1 503")]
    timed_out = [a for a in answers if a is not None and a.startswith(b"HTTP/1.1 408")]
    assert len(refused) == STALLED - PER_ADDRESS, answers
    assert b"too many connections from your address (at most 8 at once)" in refused[0]
    assert len(timed_out) == PER_ADDRESS, answers  # closed after the header timeout
    assert b"Traceback" not in server.log


def test_a_head_sent_one_byte_at_a_time_is_cut_off(server: LiveServer) -> None:
    connection = _connect(server)
    started, head = time.monotonic(), b"GET /api/info HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200
    try:
        for byte in head:  # a byte every 0.1 s: 20 s for the head, if the server waited
            try:
                connection.sendall(bytes([byte]))
            except OSError:  # closed by the server: the rest cannot be sent
                break
            time.sleep(0.1)
            if time.monotonic() - started > HEADER_TIMEOUT_S + 10:
                break
        answer = _read_until_closed(connection, time.monotonic() + 5)
    finally:
        connection.close()
    assert answer is not None and answer.startswith(b"HTTP/1.1 408"), answer
    assert time.monotonic() - started < HEADER_TIMEOUT_S + 5


def test_a_kept_alive_connection_gets_a_new_header_timeout_per_request(server: LiveServer) -> None:
    connection = _connect(server, "127.0.0.3")
    try:
        for _ in range(3):  # 3 requests over 4.5 s on one connection, each head sent at once
            connection.sendall(b"GET /api/info HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                answer += connection.recv(65536)
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(HEADER_TIMEOUT_S * 0.75)
    finally:
        connection.close()


def test_the_connection_options_are_checked(server: LiveServer, tmp_path: Path) -> None:
    for option, value in (("--max-connections-per-ip", "0"), ("--header-timeout", "0")):
        done = server.cli("serve", "--board", str(tmp_path / "b.db"), "--truth", str(tmp_path),
                          option, value)  # fmt: skip
        assert done.returncode == 2 and option in done.stderr and "Traceback" not in done.stderr
