"""SSRF guard: post URLs are attacker-controlled, so never let them reach internal addresses.

Two layers: `check_url` resolves a URL's host before any request (clear reason, no packet
sent), and `guarded_session` re-checks the address each connection actually reached, which
also covers redirects and DNS answers that change between check and connect (rebinding).
Private, loopback, link-local (cloud metadata at 169.254.169.254), multicast, reserved and
unspecified addresses are refused unless private addresses are explicitly allowed.
"""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from mrw.errors import MRWError

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
    """Raise `BlockedAddress` unless `url` is http(s) and every address its host resolves to is allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"scheme {parts.scheme or '(none)'!r} not allowed in {url}")
    host = parts.hostname
    if not host:
        raise BlockedAddress(f"no host in {url}")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return  # nothing to connect to: the request itself fails as a network error
    for *_rest, sockaddr in infos:
        problem = address_problem(sockaddr[0])
        if problem:
            raise BlockedAddress(f"{problem} (host {host})")


def _check_peer(sock: socket.socket, host: str) -> None:
    problem = address_problem(sock.getpeername()[0])
    if problem:
        sock.close()
        raise BlockedAddress(f"{problem} (connection to {host})")


class _GuardedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _check_peer(sock, self.host)
        return sock


class _GuardedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse non-public peers."""

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}


def guarded_session(allow_private: bool = False, pool_size: int = 10) -> requests.Session:
    """A `requests.Session` that (unless `allow_private`) cannot connect to non-public addresses."""
    session = requests.Session()
    adapter = (HTTPAdapter if allow_private else GuardedAdapter)(
        pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.trust_env = False  # a proxy from the environment would hide the real peer address
    return session
