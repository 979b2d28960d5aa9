"""Standard Webhooks signing: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Iterable

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 24


def generate_secret() -> str:
    """A fresh endpoint secret in the spec's `whsec_<base64>` form."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(SECRET_BYTES)).decode()


def secret_bytes(secret: str) -> bytes:
    """The HMAC key a `whsec_` secret stands for."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError("a webhook secret starts with 'whsec_'")
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """One `v1,<signature>` entry for the given HMAC key."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.digest(key, signed, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode()


def signature_header(keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` value: one entry per key, space separated, so a receiver that
    knows either the old or the new secret accepts the delivery during a rotation overlap."""
    return " ".join([sign(key, msg_id, timestamp, body) for key in keys])


def signed_headers(
    keys: Iterable[bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The headers of one delivery attempt."""
    return {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, msg_id, timestamp, body),
    }
