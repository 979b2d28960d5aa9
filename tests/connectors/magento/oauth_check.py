"""Checks an OAuth 1.0a Authorization header the way Magento does, for the tests and the
Magento contract double. Independent of the client: it rebuilds the request with oauthlib's
server-side pieces rather than re-signing with the client's code."""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableSet
from typing import Any, cast
from urllib.parse import urlsplit

from oauthlib.common import Request
from oauthlib.oauth1.rfc5849 import signature

from pimhub.connectors.magento.client import MagentoCredentials

# Magento accepts these two; anything else is refused before the signature is checked.
SUPPORTED_METHODS = ("HMAC-SHA256", "HMAC-SHA1")
REQUIRED = (
    "oauth_consumer_key",
    "oauth_token",
    "oauth_signature_method",
    "oauth_signature",
    "oauth_nonce",
    "oauth_timestamp",
)


def verify_oauth_header(
    method: str,
    url: str,
    headers: Mapping[str, str],
    credentials: MagentoCredentials,
    *,
    seen_nonces: MutableSet[str] | None = None,
    max_skew: float | None = 600.0,
    now: float | None = None,
) -> str | None:
    """None when the request is correctly signed for ``credentials``, else the reason.

    ``url`` is the full URL as received, query included, with its percent-encoding intact:
    Magento signs the raw request URI, so a SKU segment "a%2Fb" must not arrive decoded to
    "a/b" (under Starlette build it from ``scope["raw_path"]``, not ``request.url``).
    Pass ``seen_nonces`` to refuse replays (a used nonce is added to it); ``max_skew=None``
    skips the timestamp check."""
    lowered = {key.lower(): value for key, value in headers.items()}
    header = lowered.get("authorization", "")
    if header.startswith("Bearer "):
        return "bearer token sent where an OAuth 1.0a signature is required"
    if not header.startswith("OAuth "):
        return "missing OAuth Authorization header"
    try:
        oauth = dict(signature.collect_parameters(headers=lowered, exclude_oauth_signature=False))
    except ValueError as exc:
        return f"unreadable OAuth header: {exc}"
    reason = _check_fields(oauth, credentials, max_skew, now)
    if reason is None:
        reason = _check_signature(method, url, lowered, oauth, credentials)
    if reason is None and seen_nonces is not None:
        reason = _check_nonce(oauth["oauth_nonce"], seen_nonces)
    return reason


def _check_fields(
    oauth: Mapping[str, str],
    credentials: MagentoCredentials,
    max_skew: float | None,
    now: float | None,
) -> str | None:
    missing = [name for name in REQUIRED if not oauth.get(name)]
    if missing:
        return f"OAuth header lacks {', '.join(missing)}"
    if oauth["oauth_consumer_key"] != credentials.consumer_key:
        return "wrong consumer key"
    if oauth["oauth_token"] != credentials.access_token:
        return "wrong token"
    if oauth.get("oauth_version", "1.0") != "1.0":
        return f"unsupported OAuth version {oauth['oauth_version']}"
    if oauth["oauth_signature_method"] not in SUPPORTED_METHODS:
        return f"unsupported signature method {oauth['oauth_signature_method']}"
    return _check_timestamp(oauth["oauth_timestamp"], max_skew, now)


def _check_timestamp(value: str, max_skew: float | None, now: float | None) -> str | None:
    if not value.isdigit():
        return f"malformed timestamp {value!r}"
    if max_skew is not None and abs((now or time.time()) - int(value)) > max_skew:
        return "stale timestamp"
    return None


def _check_signature(
    method: str,
    url: str,
    headers: dict[str, str],
    oauth: Mapping[str, str],
    credentials: MagentoCredentials,
) -> str | None:
    try:
        params = signature.collect_parameters(
            uri_query=urlsplit(url).query, headers=headers, exclude_oauth_signature=True
        )
    except ValueError as exc:
        return f"unreadable query string: {exc}"
    # oauthlib's server endpoints attach these two before verifying; the stubs omit them.
    request: Any = Request(url, http_method=cast(Any, method.upper()), headers=headers)
    request.params = params
    request.signature = oauth["oauth_signature"]
    verify = (
        signature.verify_hmac_sha256
        if oauth["oauth_signature_method"] == "HMAC-SHA256"
        else signature.verify_hmac_sha1
    )
    if not verify(request, credentials.consumer_secret, credentials.access_token_secret):
        return "bad signature"
    return None


def _check_nonce(nonce: str, seen: MutableSet[str]) -> str | None:
    if nonce in seen:
        return "nonce already used"
    seen.add(nonce)
    return None
