"""Team tokens: `mrwlb_<key id>_<secret>`, printed once; only a SHA-256 of the secret is stored.

The key id (public, random) finds the team row; the secret's digest is then compared with
`hmac.compare_digest`, in constant time. Secrets are 256 random bits, so a plain SHA-256 (no
slow KDF) is enough: there is nothing to brute-force.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

PREFIX = "mrwlb"
KEY_ID_BYTES = 6
SECRET_BYTES = 32


@dataclass(frozen=True)
class NewToken:
    """A freshly made token (`text`, shown once) and what the database keeps of it."""

    text: str
    key_id: str
    secret_sha256: str


def digest(secret: str) -> str:
    """Hex SHA-256 of a token's secret part."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_token() -> NewToken:
    """A random token; its key id and secret are URL-safe and contain no `_` separator."""
    key_id = secrets.token_hex(KEY_ID_BYTES)
    secret = secrets.token_urlsafe(SECRET_BYTES).replace("_", "-")
    return NewToken(f"{PREFIX}_{key_id}_{secret}", key_id, digest(secret))


def split_token(text: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed token, else None."""
    parts = text.strip().split("_")
    if len(parts) != 3 or parts[0] != PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def matches(secret: str, stored_sha256: str) -> bool:
    """Whether `secret` hashes to `stored_sha256`, compared in constant time."""
    return hmac.compare_digest(digest(secret).encode(), stored_sha256.encode())
