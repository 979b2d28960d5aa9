"""Each scheme's verification, secrets, and body decoding, without a database."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

import pytest

from pimhub.access.keys import ApiKey
from pimhub.catalog.errors import NulCharacter, Unauthorized, UnsupportedMediaType
from pimhub.inbound import decode, schemes
from pimhub.inbound.errors import MessageUnverified
from pimhub.inbound.source_parser import parse_source
from pimhub.inbound.sources import Scheme

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
BODY = b'{"type":"order.placed","id":"m1"}'


def no_keys(token: str | None) -> ApiKey:
    raise Unauthorized("the API key is not valid")


def standard_headers(secret: str, body: bytes = BODY, at: int | None = None) -> dict[str, str]:
    stamp = str(int(NOW.timestamp()) if at is None else at)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = base64.b64encode(hmac.digest(key, f"m1.{stamp}.".encode() + body, "sha256")).decode()
    return {"webhook-id": "m1", "webhook-timestamp": stamp, "webhook-signature": f"v1,{mac}"}


def verify(scheme: str, secret: str | None, headers: dict[str, str], body: bytes = BODY) -> None:
    spec = parse_source({"name": "src", "scheme": scheme})
    keys = [schemes.signing_key(spec.scheme, secret)] if secret else []
    schemes.verify(spec, keys, headers, body, NOW, no_keys)


def refusal(scheme: str, secret: str | None, headers: dict[str, str], body: bytes = BODY) -> str:
    with pytest.raises(MessageUnverified) as caught:
        verify(scheme, secret, headers, body)
    return caught.value.detail


@pytest.mark.parametrize("scheme", list(Scheme))
def test_new_secrets_pass_their_own_checks(scheme: Scheme) -> None:
    secret = schemes.new_secret(scheme)
    if scheme is Scheme.API_KEY:
        assert secret is None
        return
    assert secret is not None
    assert schemes.secret_problem(scheme, secret) is None
    assert schemes.new_secret(scheme) != secret
    if scheme is Scheme.STANDARD_WEBHOOKS:
        assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24


@pytest.mark.parametrize(
    ("scheme", "secret"),
    [
        (Scheme.SHARED_SECRET, "short"),
        (Scheme.SHARED_SECRET, "x" * 513),
        (Scheme.SHARED_SECRET, " starts with a space"),
        (Scheme.SHARED_SECRET, "control\x01character-inside"),
        (Scheme.MAGEOS, "ünïcödé-secret-value"),
        (Scheme.STANDARD_WEBHOOKS, "no-prefix-but-long-enough"),
        (Scheme.STANDARD_WEBHOOKS, "whsec_not*base64*at*all!!"),
        (Scheme.API_KEY, "anything-at-all-here"),
    ],
)
def test_given_secrets_are_checked(scheme: Scheme, secret: str) -> None:
    assert schemes.secret_problem(scheme, secret) is not None


def test_inner_spaces_are_printable_ascii() -> None:
    assert schemes.secret_problem(Scheme.SHARED_SECRET, "a secret with spaces") is None


def test_standard_webhooks() -> None:
    secret = schemes.new_secret(Scheme.STANDARD_WEBHOOKS)
    assert secret is not None
    good = standard_headers(secret)
    verify("standard-webhooks", secret, good)
    # Several signatures, one of them right (a sender rotating its own secret).
    verify(
        "standard-webhooks",
        secret,
        {**good, "webhook-signature": "v1,AAAA " + good["webhook-signature"]},
    )
    assert "matches no secret" in refusal("standard-webhooks", secret, good, BODY + b" ")
    other = schemes.new_secret(Scheme.STANDARD_WEBHOOKS)
    assert "matches no secret" in refusal("standard-webhooks", other, good)
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        missing = {k: v for k, v in good.items() if k != header}
        assert refusal("standard-webhooks", secret, missing) == f"the header {header} is missing"
    old = standard_headers(secret, at=int(NOW.timestamp()) - 301)
    assert "301 s in the past" in refusal("standard-webhooks", secret, old)
    future = standard_headers(secret, at=int(NOW.timestamp()) + 400)
    assert "400 s in the future" in refusal("standard-webhooks", secret, future)
    # Non-ASCII digits would pass int(); they are no Unix time here.
    arabic = {**good, "webhook-timestamp": "١٧٦٤٩٣٦٠٠٠"}
    assert "Unix time" in refusal("standard-webhooks", secret, arabic)
    assert "no v1 signature" in refusal(
        "standard-webhooks", secret, {**good, "webhook-signature": "v2,abc"}
    )


def test_mageos() -> None:
    secret = "a-verification-token-of-magento"
    signature = hmac.new(secret.encode(), BODY, hashlib.sha256).hexdigest()
    verify("mageos", secret, {"x-magento-signature": signature})
    verify("mageos", secret, {"x-magento-signature": signature.upper()})
    assert "missing" in refusal("mageos", secret, {})
    assert "HMAC" in refusal("mageos", secret, {"x-magento-signature": "0" * 64})
    assert "HMAC" in refusal("mageos", "another-token-entirely", {"x-magento-signature": signature})
    assert "HMAC" in refusal("mageos", secret, {"x-magento-signature": "\x01\x7f"})


def test_shared_secret() -> None:
    secret = "s3cret-s3cret-s3cret"
    verify("shared-secret", secret, {"x-webhook-secret": secret})
    assert "missing" in refusal("shared-secret", secret, {})
    assert "not the source's secret" in refusal(
        "shared-secret", secret, {"x-webhook-secret": secret + "x"}
    )


def test_api_key_needs_the_inbound_scope() -> None:
    spec = parse_source({"name": "erp", "scheme": "api-key"})

    def key(*scopes: str) -> ApiKey:
        return ApiKey("k", "n", "test", scopes, NOW)

    def check(scopes: tuple[str, ...], headers: dict[str, str]) -> None:
        schemes.verify(spec, [], headers, BODY, NOW, lambda token: key(*scopes))

    check(("inbound",), {"authorization": "Bearer x"})
    check(("inbound:erp",), {"x-api-key": "x"})
    with pytest.raises(MessageUnverified, match="inbound:erp"):
        check(("inbound:other", "read:*"), {"authorization": "Bearer x"})
    with pytest.raises(MessageUnverified, match="not valid"):
        schemes.verify(spec, [], {}, BODY, NOW, no_keys)


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "application/json; charset=utf-8", "application/cloudevents+json"],
)
def test_json_media_types_pass(content_type: str) -> None:
    decode.check_media_type({"content-type": content_type})


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/+json"]
)
def test_other_media_types_are_415(content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with pytest.raises(UnsupportedMediaType):
        decode.check_media_type(headers)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"a":"\x00"}', "nul-character"),
        (b'{"a":"\\u0000"}', "nul-character"),
        (b'{"\\u0000":1}', "nul-character"),
        (b'{"a":"\\ud800"}', "lone-surrogate"),
        (b'{"a":"\xff\xfe"}', "invalid-utf8"),
        (b"[" * 10_000 + b"]" * 10_000, "too-deep"),
        (b"[" * 65 + b"]" * 65, "too-deep"),
        (b'{"n":123456789012345678901234567890}', "number-out-of-range"),
        (b'{"n":1e999}', "malformed-json"),
        (b"", "empty"),
        (b"{", "malformed-json"),
    ],
)
def test_hostile_bodies_are_refused(body: bytes, code: str) -> None:
    with pytest.raises((decode.MalformedMessage, NulCharacter)) as caught:
        decode.decode(body)
    assert caught.value.errors[0].code == code


def test_big_but_exact_numbers_pass() -> None:
    _text, payload = decode.decode(b'{"a":18446744073709551615,"b":-9223372036854775808,"c":1e300}')
    assert payload == {"a": 2**64 - 1, "b": -(2**63), "c": 1e300}
    assert decode.decode(b"[" * 64 + b"]" * 64)[1] is not None
