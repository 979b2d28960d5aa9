"""How each scheme proves that a message comes from the source's sender. Every check is
constant-time in the secret; a refusal says what failed (a missing header, no matching
signature, a timestamp outside the tolerance), never what the right value would have been."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from pimhub.access.keys import ApiKey
from pimhub.catalog.errors import FieldError, Unauthorized
from pimhub.inbound.errors import MessageUnverified
from pimhub.inbound.sources import DEFAULT_SECRET_HEADER, Scheme, SourceSpec

WHSEC_PREFIX = "whsec_"
MIN_SECRET, MAX_SECRET = 16, 512
MAX_SIGNATURE_HEADER = 4096
MAX_TIMESTAMP_DIGITS = 12
MAGEOS_HEADER = "x-magento-signature"


def new_secret(scheme: Scheme) -> str | None:
    """A fresh secret for the scheme (None: api-key sources use hub API keys)."""
    if scheme is Scheme.API_KEY:
        return None
    if scheme is Scheme.STANDARD_WEBHOOKS:
        return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def secret_problem(scheme: Scheme, secret: str) -> str | None:
    """Why `secret` cannot be the scheme's secret, or None."""
    if scheme is Scheme.API_KEY:
        return "api-key sources have no secret: senders use a hub API key with scope inbound"
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        return f"must be {MIN_SECRET} to {MAX_SECRET} characters long"
    if not all(" " <= c <= "~" for c in secret):
        return "must be printable ASCII"
    if secret != secret.strip():
        # HTTP drops a header value's outer spaces: the sender could never send them.
        return "must not start or end with a space"
    if scheme is Scheme.STANDARD_WEBHOOKS:
        if not secret.startswith(WHSEC_PREFIX):
            return f"must start with {WHSEC_PREFIX} (Standard Webhooks)"
        try:
            key = base64.b64decode(secret[len(WHSEC_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            return f"must be {WHSEC_PREFIX} followed by base64"
        if len(key) < 16:
            return f"must carry at least 16 bytes after {WHSEC_PREFIX}"
    return None


def signing_key(scheme: Scheme, secret: str) -> bytes:
    """The HMAC key of a stored secret (Standard Webhooks: the base64 part decoded)."""
    if scheme is Scheme.STANDARD_WEBHOOKS:
        return base64.b64decode(secret.removeprefix(WHSEC_PREFIX))
    return secret.encode()


def verify(
    spec: SourceSpec,
    keys: Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
    authenticate: Callable[[str | None], ApiKey],
) -> None:
    """Raises MessageUnverified unless the message proves its sender. `keys` are the signing
    keys currently valid (the secret, and the previous one during a rotation's overlap)."""
    if spec.scheme is Scheme.STANDARD_WEBHOOKS:
        _standard_webhooks(spec, keys, headers, body, now)
    elif spec.scheme is Scheme.MAGEOS:
        _mageos(keys, headers, body)
    elif spec.scheme is Scheme.SHARED_SECRET:
        _shared_secret(spec, keys, headers)
    else:
        _api_key(spec, headers, authenticate)


def _standard_webhooks(
    spec: SourceSpec, keys: Sequence[bytes], headers: Mapping[str, str], body: bytes, now: datetime
) -> None:
    msg_id = _required(headers, "webhook-id")
    stamp = _required(headers, "webhook-timestamp")
    signatures = _required(headers, "webhook-signature")
    # ASCII digits only: int() would also take '١٢٣' or '+12' or '1_000'.
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= MAX_TIMESTAMP_DIGITS):
        raise _unverified("webhook-timestamp", "is not a Unix time in seconds", "invalid-timestamp")
    off = int(stamp) - int(now.timestamp())
    if abs(off) > spec.tolerance:
        when = "in the future" if off > 0 else "in the past"
        raise _unverified(
            "webhook-timestamp",
            f"is {abs(off)} s {when}, more than the tolerance of {spec.tolerance} s",
            "timestamp-out-of-tolerance",
        )
    if len(signatures) > MAX_SIGNATURE_HEADER:
        raise _unverified("webhook-signature", "is too long", "invalid-signature")
    signed = _raw(f"{msg_id}.{stamp}.") + body
    expected = [base64.b64encode(hmac.digest(k, signed, "sha256")) for k in keys]
    offered = [s.partition(",")[2].encode() for s in signatures.split(" ") if s.startswith("v1,")]
    if not offered:
        raise _unverified(
            "webhook-signature", "holds no v1 signature ('v1,<base64>')", "invalid-signature"
        )
    if not _any_equal(offered, expected):
        raise _unverified(
            "webhook-signature", "matches no secret of the source", "signature-mismatch"
        )


def _mageos(keys: Sequence[bytes], headers: Mapping[str, str], body: bytes) -> None:
    given = _required(headers, MAGEOS_HEADER).strip().lower()
    expected = [hmac.new(k, body, hashlib.sha256).hexdigest().encode() for k in keys]
    if not _any_equal([_raw(given)], expected):
        raise _unverified(
            MAGEOS_HEADER,
            "is not the HMAC-SHA256 of the body with the source's secret",
            "signature-mismatch",
        )


def _shared_secret(spec: SourceSpec, keys: Sequence[bytes], headers: Mapping[str, str]) -> None:
    header = spec.header or DEFAULT_SECRET_HEADER
    given = _raw(_required(headers, header))
    # Digests first so the comparison takes as long whatever the length of the guess.
    offered = [hashlib.sha256(given).digest()]
    if not _any_equal(offered, [hashlib.sha256(k).digest() for k in keys]):
        raise _unverified(header, "is not the source's secret", "secret-mismatch")


def _api_key(
    spec: SourceSpec, headers: Mapping[str, str], authenticate: Callable[[str | None], ApiKey]
) -> None:
    token = _bearer(headers.get("authorization")) or headers.get("x-api-key")
    try:
        key = authenticate(token)
    except Unauthorized as exc:
        raise MessageUnverified(
            exc.detail, [FieldError("authorization", exc.detail, "invalid-key")]
        ) from None
    wanted = ("admin", "inbound", f"inbound:{spec.name}")
    if not any(scope in key.scopes for scope in wanted):
        detail = f"the API key holds neither scope inbound nor inbound:{spec.name}"
        raise MessageUnverified(detail, [FieldError("authorization", detail, "missing-scope")])


def _bearer(value: str | None) -> str | None:
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _raw(text: str) -> bytes:
    """A header value's bytes as sent (the route decodes them as latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _any_equal(offered: Sequence[bytes], expected: Sequence[bytes]) -> bool:
    # Every pair is compared (no early exit), so the time does not tell which key matched.
    found = False
    for given in offered:
        for wanted in expected:
            found |= hmac.compare_digest(given, wanted)
    return found


def _required(headers: Mapping[str, str], name: str) -> str:
    value = headers.get(name)
    if not value:
        raise _unverified(name, "is missing", "missing-header")
    return value


def _unverified(header: str, problem: str, code: str) -> MessageUnverified:
    detail = f"the header {header} {problem}"
    return MessageUnverified(detail, [FieldError(header, detail, code)])
