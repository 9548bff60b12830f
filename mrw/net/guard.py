"""SSRF guard: post URLs are attacker-controlled, so never let them reach internal addresses.

Two layers: `check_url` resolves a URL's host before any request (clear reason, no packet
sent), and `guarded_connections` refuses, at `socket.connect`, any connection to a refused
address, which also covers redirects, DNS answers that change between check and connect
(rebinding), and libraries with their own HTTP stack (yt-dlp).
Private, loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
unspecified addresses are refused unless private addresses are explicitly allowed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

from mrw.core.errors import MRWError

ALLOWED_SCHEMES = ("http", "https")


class BlockedAddress(MRWError):
    """A URL points at (or a connection reached) an address the guard refuses."""


def address_problem(address: str) -> str | None:
    """Why an IP address is refused (None if it is a public unicast address)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for label, flag in (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("private", ip.is_private),
    ):
        if flag:
            return f"{label} address: {ip}"
    if not ip.is_global:
        return f"non-global address: {ip}"
    return None


def check_url(url: str, allow_private: bool = False) -> None:
    """Raise `BlockedAddress` unless `url` is http(s) and every address its host resolves to is
    allowed (ValueError for a malformed URL)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"malformed URL {url[:100]!r}: {exc}") from None
    if parts.scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"scheme {parts.scheme or '(none)'!r} not allowed in {url[:100]}")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url[:100]!r}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return  # nothing to connect to: the request itself fails as a network error
    for *_rest, sockaddr in infos:
        problem = address_problem(sockaddr[0])
        if problem:
            raise BlockedAddress(f"{problem} (host {host})")


class _Guard(threading.local):
    active: bool = False
    blocked: BlockedAddress | None = None  # the last connection refused on this thread


_guard = _Guard()
_hook_lock = threading.Lock()
_hook_installed = False


def _audit(event: str, args: tuple) -> None:
    """Refuse `socket.connect` to non-public peers on threads inside `guarded_connections`."""
    if event != "socket.connect" or not _guard.active:
        return
    sock, address = args
    if sock.family not in (socket.AF_INET, socket.AF_INET6):
        return
    problem = address_problem(address[0])
    if problem:
        _guard.blocked = BlockedAddress(f"{problem} (connection to {address[0]})")
        raise _guard.blocked


@contextlib.contextmanager
def guarded_connections(allow_private: bool = False) -> Iterator[None]:
    """Inside this block, no socket this thread opens can reach a refused address.

    Enforced by an audit hook on `socket.connect`, so it holds for every library (requests,
    yt-dlp's own HTTP stack), every redirect hop and every DNS answer: the check is on the
    address actually connected to. Libraries may wrap the error; `last_blocked()` tells.
    """
    global _hook_installed
    if allow_private:
        yield
        return
    with _hook_lock:
        if not _hook_installed:
            sys.addaudithook(_audit)
            _hook_installed = True
    previous, _guard.active, _guard.blocked = _guard.active, True, None
    try:
        yield
    finally:
        _guard.active = previous


def last_blocked() -> BlockedAddress | None:
    """The connection the guard refused most recently on this thread (inside the last block)."""
    return _guard.blocked
